"""Campaigns and auto-issue through their jobs: a real worker thread, threads racing on one
chunk, and a real worker process killed in the middle of a campaign."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from demo.synthetic import synthetic_members_add
from loyalty.members.models import Member
from loyalty.scoring.events import TierChangeNotice, announce_on_commit
from loyalty.scoring.models import HoldCategory, MemberStanding, Tier
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import (
    campaign_chunk_issue,
    campaign_create,
    campaign_plan,
    campaigns_resume,
    vouchers_auto_issue,
)
from perks.vouchers.campaigns.tasks import vouchers_auto_issue_task
from perks.vouchers.models import (
    Campaign,
    CampaignChunk,
    CampaignStatus,
    ChunkStatus,
    Voucher,
    VoucherSource,
    VoucherStatus,
)
from perks.vouchers.services import voucher_claim
from tests.factories import HoldFactory, MerchantFactory, PerkFactory, StaffFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.support.races import race
from tests.support.worker_process import kill, worker_process

WAIT_SECONDS = 60


def wait_until(condition, *, poke=None, poke_every=2.0):
    deadline, poked = time.monotonic() + WAIT_SECONDS, 0.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {WAIT_SECONDS}s")
        if poke and time.monotonic() - poked > poke_every:
            poke()
            poked = time.monotonic()
        time.sleep(0.05)


def owner_of(merchant):
    return StaffFactory.create(merchant=merchant, role=Role.OWNER).user


def reach(member: Member, slug: str, previous: str | None) -> None:
    """The scoring side moves the member and announces it, as a recomputation does."""
    tier = Tier.objects.get(slug=slug)
    with transaction.atomic():
        MemberStanding.objects.update_or_create(
            member=member, defaults={"tier": tier, "score": tier.min_score}
        )
        announce_on_commit([TierChangeNotice(member.pk, previous, slug, timezone.now())])


def auto_perk(merchant, slug="gold", **fields):
    return PerkFactory.create(
        merchant=merchant, auto_issue=True, min_tier=Tier.objects.get(slug=slug), **fields
    )


def test_reaching_a_tier_issues_its_auto_perks_once_through_the_worker(celery_worker):
    merchant = MerchantFactory.create()
    gold, platinum = auto_perk(merchant, "gold"), auto_perk(merchant, "platinum")
    auto_perk(merchant, "diamond")
    (member,) = members_in("silver", 1)

    reach(member, "platinum", "silver")  # two tiers at once: both perks crossed

    wait_until(lambda: Voucher.objects.filter(member=member).count() == 2)
    assert (
        vouchers_auto_issue_task.apply_async((member.pk, "platinum", "silver"), ignore_result=False).get(
            timeout=WAIT_SECONDS
        )
        == 0
    )
    vouchers = Voucher.objects.filter(member=member)
    assert {v.perk_id for v in vouchers} == {gold.pk, platinum.pk}
    assert {v.source for v in vouchers} == {VoucherSource.AUTO}


@pytest.mark.django_db
def test_down_and_up_again_issues_again_only_once_the_first_voucher_is_spent():
    merchant = MerchantFactory.create()
    perk = auto_perk(merchant)
    (member,) = members_in("gold", 1)

    assert len(vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver")) == 1
    assert vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver") == []  # a retry
    assert vouchers_auto_issue(member_id=member.pk, tier="silver", previous_tier="gold") == []  # down
    assert (
        vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver") == []
    )  # up, still held

    Voucher.objects.filter(member=member).update(status=VoucherStatus.REDEEMED, uses_count=1)
    assert len(vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver")) == 1
    assert Voucher.objects.filter(member=member, perk=perk).count() == 2


@pytest.mark.django_db
def test_refusals_are_skipped_quietly_and_the_other_perks_still_come():
    merchant = MerchantFactory.create()
    held_perk = auto_perk(merchant)
    empty = auto_perk(MerchantFactory.create(), inventory=0)
    fine = auto_perk(MerchantFactory.create())
    (member,) = members_in("gold", 1)
    HoldFactory.create(member=member, merchant_ref=merchant.ref, category=HoldCategory.ALL)

    issued = vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver")

    assert [v.perk_id for v in issued] == [fine.pk]
    assert not Voucher.objects.filter(perk__in=[held_perk, empty]).exists()


def test_a_campaign_runs_to_the_end_through_the_worker(celery_worker, settings):
    settings.CAMPAIGN_CHUNK_SIZE = 4
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant, inventory=9)
    members_in("silver", 3)
    members_in("gold", 10)

    campaign = campaign_create(merchant=merchant, actor=owner_of(merchant), perk=perk, min_tier="gold")

    wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE)
    campaign.refresh_from_db()
    assert (campaign.total, campaign.issued, campaign.skipped) == (10, 9, 1)
    assert campaign.chunks.filter(status=ChunkStatus.DONE).count() == 3
    assert Voucher.objects.filter(campaign=campaign).count() == 9


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_chunk_raced_by_many_threads_is_issued_once():
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant, inventory=40)
    members_in("gold", 30)
    campaign = campaign_create(merchant=merchant, actor=owner_of(merchant), perk=perk, min_tier="gold")
    (chunk_id,) = campaign_plan(campaign_id=campaign.pk, chunk_size=100)

    outcomes = race(lambda _: campaign_chunk_issue(chunk_id=chunk_id), threads=6)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert [o.value.issued for o in outcomes if o.value is not None] == [30]
    assert Voucher.objects.filter(campaign=campaign).count() == 30
    perk.refresh_from_db()
    assert perk.issued_count == 30
    campaign.refresh_from_db()
    assert (campaign.status, campaign.issued, campaign.skipped) == (CampaignStatus.DONE, 30, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_members_claiming_while_their_chunk_runs_never_pass_the_per_member_limit():
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant, per_member_limit=1)
    members = members_in("gold", 8)
    campaign = campaign_create(merchant=merchant, actor=owner_of(merchant), perk=perk, min_tier="gold")
    (chunk_id,) = campaign_plan(campaign_id=campaign.pk, chunk_size=100)

    def contend(index: int) -> object:
        if index == 0:
            return campaign_chunk_issue(chunk_id=chunk_id)
        return voucher_claim(perk=perk, member=members[index - 1], idempotency_key=f"claim-{index}")

    race(contend, threads=len(members) + 1)

    held = Voucher.objects.filter(perk=perk).values("member_id").annotate(n=Count("pk"))
    assert {row["member_id"] for row in held} == {member.pk for member in members}
    assert max(row["n"] for row in held) == 1
    campaign.refresh_from_db()
    assert campaign.issued + campaign.skipped == campaign.total == len(members)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_chunks_finishing_together_finish_the_campaign_once():
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 24)
    campaign = campaign_create(merchant=merchant, actor=owner_of(merchant), perk=perk, min_tier="gold")
    chunk_ids = campaign_plan(campaign_id=campaign.pk, chunk_size=4)

    outcomes = race(lambda i: campaign_chunk_issue(chunk_id=chunk_ids[i]), threads=len(chunk_ids))

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sum(o.value.campaign_finished for o in outcomes) == 1
    campaign.refresh_from_db()
    assert (campaign.status, campaign.total, campaign.issued) == (CampaignStatus.DONE, 24, 24)
    assert campaign.finished_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_campaign_and_replaced_leaves_each_member_exactly_one_voucher():
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant)
    synthetic_members_add(count=3000, seed=5)
    eligible = set(
        MemberStanding.objects.filter(tier__rank__gte=Tier.objects.get(slug="silver").rank).values_list(
            "member_id", flat=True
        )
    )
    chunk_size = "40"

    with worker_process(CAMPAIGN_CHUNK_SIZE=chunk_size) as worker:
        campaign = campaign_create(merchant=merchant, actor=owner_of(merchant), perk=perk, min_tier="silver")
        done = CampaignChunk.objects.filter(campaign=campaign, status=ChunkStatus.DONE)
        wait_until(lambda: done.count() >= 5)
        kill(worker)
    chunks = CampaignChunk.objects.filter(campaign=campaign)
    assert 5 <= done.count() < chunks.count(), "the worker was not killed mid-campaign"

    with worker_process(CAMPAIGN_CHUNK_SIZE=chunk_size):
        wait_until(
            lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE,
            poke=lambda: campaigns_resume(stalled_for=timedelta(seconds=2)),
        )

    campaign.refresh_from_db()
    holders = list(Voucher.objects.filter(campaign=campaign).values_list("member_id", flat=True))
    assert len(holders) == len(set(holders))
    assert set(holders) == eligible
    assert (campaign.total, campaign.issued, campaign.skipped) == (len(eligible), len(eligible), 0)
    assert not chunks.filter(status=ChunkStatus.PENDING).exists()
