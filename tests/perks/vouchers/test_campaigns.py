"""Campaigns as services: who is in the audience, who is skipped and why, and the counts."""

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.core.errors import Invalid, NotFound, PermissionDenied
from loyalty.members.models import Member, Notification
from loyalty.scoring.models import HoldCategory, Tier
from loyalty.scoring.services import hold_lift
from perks.catalog.errors import PerkInactive
from perks.catalog.models import PerkStatus
from perks.merchants.models import AuditEntry, WebhookEvent
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.selectors import campaign_by_ref, campaign_codes_csv, campaign_progress
from perks.vouchers.campaigns.services import (
    campaign_chunk_issue,
    campaign_create,
    campaign_fail,
    campaign_plan,
    campaigns_resume,
)
from perks.vouchers.codes import code_format
from perks.vouchers.models import Campaign, CampaignChunk, CampaignStatus, Voucher, VoucherSource
from tests.factories import HoldFactory, MerchantFactory, PerkFactory, StaffFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db


def run(campaign: Campaign, chunk_size: int = 3) -> Campaign:
    """Plan and issue every chunk here, as the worker would."""
    for chunk_id in campaign_plan(campaign_id=campaign.pk, chunk_size=chunk_size):
        campaign_chunk_issue(chunk_id=chunk_id)
    campaign.refresh_from_db()
    return campaign


def holders(campaign: Campaign) -> set[int]:
    return set(Voucher.objects.filter(campaign=campaign).values_list("member_id", flat=True))


def test_a_tier_campaign_reaches_that_tier_and_above_once_each(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, uses_per_voucher=2, voucher_ttl_days=10)
    members_in("silver", 3)
    gold, diamond = members_in("gold", 4), members_in("diamond", 3)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {m.pk for m in gold + diamond}
    assert (campaign.status, campaign.total, campaign.issued, campaign.skipped) == (
        CampaignStatus.DONE,
        7,
        7,
        0,
    )
    assert campaign.finished_at is not None
    assert CampaignChunk.objects.filter(campaign=campaign).count() == 3  # 7 members by 3
    voucher = Voucher.objects.filter(campaign=campaign).earliest("pk")
    assert (voucher.source, voucher.uses_allowed, voucher.merchant_id) == (
        VoucherSource.CAMPAIGN,
        2,
        merchant.pk,
    )
    assert voucher.expires_at - voucher.issued_at == timedelta(days=10)
    perk.refresh_from_db()
    assert perk.issued_count == 7
    assert not Notification.objects.exists()  # the voucher is the message (see surfaces.app.notices)
    assert AuditEntry.objects.filter(
        merchant=merchant, action="campaign.created", target=campaign.ref
    ).exists()
    (event,) = WebhookEvent.objects.filter(merchant=merchant, type="campaign.completed")
    assert event.data | {} == {**event.data, "id": campaign.ref, "issued": 7, "total": 7, "status": "done"}


def test_a_score_campaign_reaches_that_score_and_above(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 2, score_offset=0)  # 600
    higher = members_in("gold", 2, score_offset=20)  # 620

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_score=610))

    assert holders(campaign) == {m.pk for m in higher}


def test_an_erased_member_is_in_no_audience(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    kept, erased = members_in("gold", 2)
    Member.objects.filter(pk=erased.pk).update(erased_at=timezone.now())

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {kept.pk}


def test_members_the_perk_itself_does_not_admit_are_skipped(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, min_score=650)
    members_in("gold", 2)
    platinum = members_in("platinum", 2)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {m.pk for m in platinum}
    assert (campaign.total, campaign.issued, campaign.skipped) == (4, 2, 2)


def test_members_under_a_hold_of_the_merchant_are_skipped_and_others_holds_do_not_count(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    held, elsewhere, free = members_in("gold", 3)
    HoldFactory.create(member=held, merchant_ref=merchant.ref, category=HoldCategory.FREE_ITEM)
    HoldFactory.create(member=elsewhere, merchant_ref=MerchantFactory.create().ref, category=HoldCategory.ALL)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {elsewhere.pk, free.pk}
    assert campaign.skipped == 1


def test_hold_free_days_skips_members_held_recently(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, hold_free_days=180)
    lifted, clean = members_in("gold", 2)
    hold = HoldFactory.create(member=lifted, merchant_ref=merchant.ref, category=HoldCategory.FREE_ITEM)
    hold_lift(hold=hold, merchant_ref=merchant.ref)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {clean.pk}


def test_inventory_partly_exhausted_issues_what_is_left_in_member_order(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, inventory=3)
    members = members_in("gold", 5)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"), chunk_size=2)

    assert holders(campaign) == {m.pk for m in members[:3]}
    assert (campaign.total, campaign.issued, campaign.skipped) == (5, 3, 2)
    perk.refresh_from_db()
    assert perk.issued_count == 3


def test_members_at_the_per_member_limit_are_skipped(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, per_member_limit=1)
    _first, second = members_in("gold", 2)
    earlier = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))
    Voucher.objects.filter(campaign=earlier, member=second).delete()

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    assert holders(campaign) == {second.pk}
    assert (campaign.issued, campaign.skipped) == (1, 1)


def test_a_chunk_run_twice_issues_nothing_the_second_time(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 4)
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    first, second = campaign_plan(campaign_id=campaign.pk, chunk_size=2)
    assert campaign_plan(campaign_id=campaign.pk) == []  # planned once

    assert (outcome := campaign_chunk_issue(chunk_id=first))
    assert outcome.issued == 2
    assert campaign_chunk_issue(chunk_id=first) is None
    progress = campaign_progress(campaign=campaign)
    assert (progress.status, progress.issued, progress.percent, progress.is_running) == (
        "running",
        2,
        50,
        True,
    )

    assert (outcome := campaign_chunk_issue(chunk_id=second))
    assert outcome.campaign_finished
    assert campaign_chunk_issue(chunk_id=second) is None
    assert Voucher.objects.filter(campaign=campaign).count() == 4
    assert campaign_progress(campaign=campaign).percent == 100


def test_members_who_join_or_leave_a_range_after_the_plan_keep_the_counts_whole(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    leaving, staying = members_in("gold", 2)
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    campaign_plan(campaign_id=campaign.pk, chunk_size=10)
    leaving.standing.tier = Tier.objects.get(slug="silver")
    leaving.standing.save()

    (chunk,) = CampaignChunk.objects.filter(campaign=campaign)
    campaign_chunk_issue(chunk_id=chunk.pk)
    campaign.refresh_from_db()

    assert holders(campaign) == {staying.pk}
    assert campaign.total == campaign.issued + campaign.skipped == 1


def test_an_empty_audience_finishes_at_once(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("silver", 2)

    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="diamond"))

    assert (campaign.status, campaign.total) == (CampaignStatus.DONE, 0)


def test_a_perk_paused_mid_campaign_skips_the_rest(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 4)
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    first, second = campaign_plan(campaign_id=campaign.pk, chunk_size=2)
    campaign_chunk_issue(chunk_id=first)
    perk.status = PerkStatus.PAUSED
    perk.save()

    campaign_chunk_issue(chunk_id=second)
    campaign.refresh_from_db()

    assert (campaign.status, campaign.issued, campaign.skipped) == (CampaignStatus.DONE, 2, 2)


def test_a_failed_campaign_says_why_and_its_chunks_then_do_nothing(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 2)
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    (chunk_id,) = campaign_plan(campaign_id=campaign.pk)

    assert campaign_fail(campaign_id=campaign.pk, reason="OperationalError: the database went away")
    assert campaign_chunk_issue(chunk_id=chunk_id) is None
    campaign.refresh_from_db()
    assert (campaign.status, campaign.failure) == ("failed", "OperationalError: the database went away")
    assert not campaign_fail(campaign_id=campaign.pk, reason="again")


def test_stalled_campaigns_are_queued_again_and_moving_ones_are_not(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    members_in("gold", 4)
    never_planned = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    running = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    first, _ = campaign_plan(campaign_id=running.pk, chunk_size=2)
    campaign_chunk_issue(chunk_id=first)

    assert campaigns_resume() == 0  # both are younger than the stall limit
    later = timezone.now() + timedelta(minutes=10)
    Campaign.objects.filter(pk__in=[never_planned.pk, running.pk]).update(
        created_at=later - timedelta(minutes=20), started_at=later - timedelta(minutes=20)
    )
    CampaignChunk.objects.filter(pk=first).update(finished_at=later - timedelta(minutes=20))

    assert campaigns_resume(stalled_for=timedelta(minutes=5) - (later - timezone.now())) == 2


def test_create_checks_the_role_the_perk_and_the_audience(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)
    cashier = StaffFactory.create(merchant=merchant, role=Role.CASHIER).user

    with pytest.raises(PermissionDenied):
        campaign_create(merchant=merchant, actor=cashier, perk=perk, min_tier="gold")
    with pytest.raises(NotFound):
        campaign_create(merchant=merchant, actor=owner, perk=PerkFactory.create(), min_tier="gold")
    with pytest.raises(PerkInactive):
        campaign_create(
            merchant=merchant,
            actor=owner,
            perk=PerkFactory.create(merchant=merchant, status="draft"),
            min_tier="gold",
        )
    audiences: list[tuple[dict[str, Any], str]] = [
        ({}, "audience"),
        ({"min_tier": "bronze"}, "min_tier"),
        ({"min_score": 1000}, "min_score"),
    ]
    for audience, param in audiences:
        with pytest.raises(Invalid) as refused:
            campaign_create(merchant=merchant, actor=owner, perk=perk, **audience)
        assert refused.value.param == param
    assert not Campaign.objects.exists()


def test_another_merchants_campaign_is_not_found(merchant, owner):
    campaign = campaign_create(
        merchant=merchant, actor=owner, perk=PerkFactory.create(merchant=merchant), min_score=600
    )

    assert campaign_by_ref(merchant=merchant, ref=campaign.ref) == campaign
    with pytest.raises(NotFound):
        campaign_by_ref(merchant=MerchantFactory.create(), ref=campaign.ref)


def test_the_codes_export_lists_every_voucher_as_people_type_it(merchant, owner):
    """Every member of the audience gets a voucher; the merchant reads the ref of those
    linked with it only (not of a stranger, nor of one who ended the link)."""
    perk = PerkFactory.create(merchant=merchant)
    regular, stranger, gone = members = members_in("gold", 3)
    linked(regular, merchant)
    unlinked(gone, merchant)
    linked(stranger, MerchantFactory.create())
    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"))

    lines = "".join(campaign_codes_csv(campaign=campaign)).splitlines()

    assert lines[0] == "code,member,status"
    vouchers = Voucher.objects.filter(campaign=campaign).select_related("member").order_by("pk")
    shown = {regular.pk: regular.ref, stranger.pk: "", gone.pk: ""}
    assert lines[1:] == [f"{code_format(v.code)},{shown[v.member_id]},issued" for v in vouchers]
    assert {v.member_id for v in vouchers} == {m.pk for m in members}


def test_the_operator_browses_campaigns_with_their_chunks_and_cannot_add_one(admin_client, merchant, owner):
    members_in("gold", 3)
    perk = PerkFactory.create(merchant=merchant)
    campaign = run(campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold"), chunk_size=2)

    listing = admin_client.get(reverse("admin:vouchers_campaign_changelist"), {"q": campaign.ref})
    page = admin_client.get(reverse("admin:vouchers_campaign_change", args=[campaign.pk]))

    assert list(listing.context["cl"].result_list) == [campaign]
    assert page.status_code == 200
    (chunks,) = page.context["inline_admin_formsets"]
    assert [form.instance.size for form in chunks.formset] == [2, 1]
    assert admin_client.get(reverse("admin:vouchers_campaign_add")).status_code == 403
