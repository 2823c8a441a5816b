"""Running campaigns: create one, plan its chunks, issue a chunk, finish, fail, resume.

A campaign is planned once (its audience counted and cut into chunks of consecutive
member ids) and each chunk is issued in one transaction that locks the chunk row, so a
chunk that is retried, duplicated or raced issues nothing twice; the database's unique
(campaign, member) backs that. `total` counts the members considered: a chunk counts its
range's audience as it is when the chunk runs (members who joined or left since the plan
move `total`), so that at the end total = issued + skipped.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Q, QuerySet
from django.utils import timezone

from loyalty.core.errors import Invalid, Refused
from loyalty.members.models import Member
from loyalty.scoring.models import SCORE_MAX, SCORE_MIN, Tier, TierChange
from loyalty.scoring.selectors import audience, holds_suspending
from perks.billing.errors import MerchantBillingPaused
from perks.billing.selectors import billing_paused
from perks.catalog.errors import PerkInactive, PerkNotFound
from perks.catalog.models import Perk
from perks.catalog.rules import limit_window_start, perk_is_live
from perks.catalog.selectors import perks_auto_issued_on_reaching
from perks.catalog.services import perk_inventory_take_up_to
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require, audit_record, webhook_emit
from perks.vouchers import sql
from perks.vouchers.campaigns.tasks import campaign_chunk_issue_task, campaign_plan_task
from perks.vouchers.locks import member_claims_lock, members_claims_lock
from perks.vouchers.models import (
    AutoIssueSweep,
    Campaign,
    CampaignChunk,
    CampaignStatus,
    ChunkStatus,
    Voucher,
    VoucherSource,
    VoucherStatus,
)
from perks.vouchers.services import voucher_issue
from perks.vouchers.services.actors import actor_label

log = logging.getLogger(__name__)

# A running campaign that has finished no chunk for this long has lost its messages (a
# worker died holding them): `campaigns_resume` queues its pending chunks again.
STALL_AFTER = timedelta(minutes=5)
FAILURE_MAX_LENGTH = 300
# The auto-issue sweep reads tier changes written at least this long ago (their task has
# had its chance), this many a run.
AUTO_ISSUE_GRACE = timedelta(minutes=2)
AUTO_ISSUE_SWEEP_BATCH = 500


@dataclass(frozen=True)
class ChunkOutcome:
    issued: int
    skipped: int
    campaign_finished: bool


def campaign_create(
    *,
    merchant: Merchant,
    actor: Actor,
    perk: Perk,
    min_tier: str | None = None,
    min_score: int | None = None,
) -> Campaign:
    """A campaign of `perk` to the members at or above `min_tier` and/or `min_score`;
    planned and issued in the background once this transaction commits."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.VOUCHERS_ISSUE)
    if perk.merchant_id != merchant.pk:
        raise PerkNotFound(param="perk")
    if not perk_is_live(perk=perk, at=timezone.now()):
        raise PerkInactive(param="perk")
    if billing_paused(merchant):
        raise MerchantBillingPaused()
    tier = _audience_tier(min_tier)
    score = _audience_score(min_score)
    if tier is None and score is None:
        raise Invalid("Name the audience: a minimum tier, a minimum score, or both.", param="audience")
    with transaction.atomic():
        campaign = Campaign.objects.create(
            merchant=merchant,
            perk=perk,
            audience_min_tier=tier,
            audience_min_score=score,
            created_by=actor_label(actor),
        )
        audit_record(
            merchant=merchant,
            actor=actor,
            action="campaign.created",
            target=campaign.ref,
            params={"perk": perk.ref, "min_tier": tier.slug if tier else None, "min_score": score},
        )
        campaign_plan_task.delay_on_commit(campaign.pk)
    return campaign


def campaign_plan(*, campaign_id: int, chunk_size: int | None = None) -> list[int]:
    """Count the audience, cut it into chunks and start the campaign; returns the chunk ids
    (queued after commit). A campaign already planned returns [] and changes nothing."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign_id)
        if campaign.status != CampaignStatus.PENDING:
            return []
        ranges = sql.id_ranges(_audience(campaign), size=chunk_size or settings.CAMPAIGN_CHUNK_SIZE)
        chunks = CampaignChunk.objects.bulk_create(
            CampaignChunk(campaign=campaign, index=index, first_member_id=low, last_member_id=high, size=size)
            for index, (low, high, size) in enumerate(ranges)
        )
        now = timezone.now()
        total = sum(chunk.size for chunk in chunks)
        Campaign.objects.filter(pk=campaign_id).update(
            status=CampaignStatus.RUNNING, total=total, started_at=now
        )
        if not chunks:
            _finish(campaign_id, now)
        chunk_ids = [chunk.pk for chunk in chunks]
        for chunk_id in chunk_ids:
            campaign_chunk_issue_task.delay_on_commit(chunk_id)
    return chunk_ids


def campaign_chunk_issue(*, chunk_id: int) -> ChunkOutcome | None:
    """Issue one chunk in one transaction; None if it was already done (or its campaign is
    no longer running). Eligible members get a voucher while inventory lasts; the others
    in the range's audience are counted as skipped."""
    with transaction.atomic():
        chunk = (
            CampaignChunk.objects.select_for_update(of=("self",))
            .select_related(
                "campaign__perk__merchant", "campaign__perk__min_tier", "campaign__audience_min_tier"
            )
            .get(pk=chunk_id)
        )
        campaign = chunk.campaign
        if chunk.status == ChunkStatus.DONE or campaign.status != CampaignStatus.RUNNING:
            return None
        now = timezone.now()
        in_range = _audience(campaign).filter(pk__gte=chunk.first_member_id, pk__lte=chunk.last_member_id)
        # Billing paused since the campaign started: the rest of its audience is skipped,
        # as when its perk stops being live, for no new voucher is issued while paused.
        if perk_is_live(perk=campaign.perk, at=now) and not billing_paused(campaign.perk.merchant):
            considered, eligible = _considered_and_eligible(in_range, campaign.perk, now)
        else:
            considered, eligible = in_range.count(), []
        issued = _issue(campaign, eligible, now)
        skipped = considered - issued
        CampaignChunk.objects.filter(pk=chunk_id).update(
            status=ChunkStatus.DONE, issued=issued, skipped=skipped, finished_at=now
        )
        # This UPDATE takes the campaign's row lock and keeps it to commit: chunks that end
        # together queue here, so the pending-chunk check below sees every earlier one done.
        Campaign.objects.filter(pk=campaign.pk).update(
            total=F("total") + (considered - chunk.size),
            issued=F("issued") + issued,
            skipped=F("skipped") + skipped,
        )
        finished = not CampaignChunk.objects.filter(campaign=campaign, status=ChunkStatus.PENDING).exists()
        if finished:
            _finish(campaign.pk, now)
    return ChunkOutcome(issued=issued, skipped=skipped, campaign_finished=finished)


def campaign_fail(*, campaign_id: int, reason: str) -> bool:
    """Mark a campaign that cannot go on failed, with why; its vouchers issued so far stay."""
    with transaction.atomic():
        failed = Campaign.objects.filter(
            pk=campaign_id, status__in=[CampaignStatus.PENDING, CampaignStatus.RUNNING]
        ).update(
            status=CampaignStatus.FAILED, failure=reason[:FAILURE_MAX_LENGTH], finished_at=timezone.now()
        )
    if failed:
        log.error("campaign %s failed: %s", campaign_id, reason)
    return bool(failed)


def campaigns_resume(*, stalled_for: timedelta = STALL_AFTER) -> int:
    """Queue again the work of campaigns that stopped moving (beat): a pending campaign
    never planned, or a running one whose chunks stopped finishing. Duplicates are harmless
    (a chunk done returns at once); returns how many tasks were queued."""
    cutoff = timezone.now() - stalled_for
    queued = 0
    with transaction.atomic():
        for campaign_id in Campaign.objects.filter(
            status=CampaignStatus.PENDING, created_at__lte=cutoff
        ).values_list("pk", flat=True):
            campaign_plan_task.delay_on_commit(campaign_id)
            queued += 1
        stalled = (
            Campaign.objects.filter(status=CampaignStatus.RUNNING, started_at__lte=cutoff)
            .annotate(last_progress=Max("chunks__finished_at"))
            .exclude(last_progress__gt=cutoff)
        )
        for chunk_id in CampaignChunk.objects.filter(
            campaign__in=stalled, status=ChunkStatus.PENDING
        ).values_list("pk", flat=True):
            campaign_chunk_issue_task.delay_on_commit(chunk_id)
            queued += 1
    return queued


def _finish(campaign_id: int, now: datetime) -> None:
    """Running → done, once: of two chunks finishing together only one moves it."""
    if Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).update(
        status=CampaignStatus.DONE, finished_at=now
    ):
        campaign = Campaign.objects.select_related("merchant", "perk").get(pk=campaign_id)
        webhook_emit(
            merchant=campaign.merchant,
            type="campaign.completed",
            data={
                "id": campaign.ref,
                "perk": campaign.perk.ref,
                "status": campaign.status,
                "total": campaign.total,
                "issued": campaign.issued,
                "skipped": campaign.skipped,
            },
        )


def _audience(campaign: Campaign) -> QuerySet[Member]:
    tier = campaign.audience_min_tier
    return audience(min_tier=tier.slug if tier else None, min_score=campaign.audience_min_score)


def _considered_and_eligible(members: QuerySet[Member], perk: Perk, now: datetime) -> tuple[int, list[int]]:
    """How many `members` there are, and those the perk admits now (in id order), in one
    read: its own minimum, no hold of its merchant suspending it (nor, with hold_free_days,
    one in that many days), and below the per-member limit."""
    admitted = Q()
    if perk.min_tier is not None:
        admitted &= Q(standing__tier__rank__gte=perk.min_tier.rank)
    elif perk.min_score is not None:
        admitted &= Q(standing__score__gte=perk.min_score)
    admitted &= ~Q(
        pk__in=holds_suspending(merchant_ref=perk.merchant.ref, category=perk.type).values("member_id")
    )
    if perk.hold_free_days:
        recent = holds_suspending(
            merchant_ref=perk.merchant.ref, category=perk.type, hold_free_days=perk.hold_free_days
        )
        admitted &= ~Q(pk__in=recent.values("member_id"))
    if perk.per_member_limit is not None:
        # A member claiming the perk while this chunk runs must not end up over the limit:
        # their claims wait on these locks (taken before the perk's, as a claim takes them),
        # and the limit is counted after they are held.
        members_claims_lock(members.filter(admitted).values_list("pk", flat=True))
        admitted &= ~Q(pk__in=_at_limit(perk, now))
    rows = members.annotate(admitted=ExpressionWrapper(admitted, output_field=BooleanField()))
    flagged = list(rows.values_list("pk", "admitted"))
    return len(flagged), [pk for pk, is_admitted in flagged if is_admitted]


def _at_limit(perk: Perk, now: datetime) -> QuerySet[Any, Any]:
    vouchers = Voucher.objects.filter(perk=perk)
    since = limit_window_start(period=perk.limit_period, at=now)
    if since is not None:
        vouchers = vouchers.filter(issued_at__gte=since)
    return (
        vouchers.values("member_id")
        .annotate(held=Count("pk"))
        .filter(held__gte=perk.per_member_limit)
        .values("member_id")
    )


def _issue(campaign: Campaign, eligible: list[int], now: datetime) -> int:
    """Vouchers for as many of `eligible` as the inventory allows (in member order). The
    inventory is taken last: its row lock, which every chunk of the perk needs, is then held
    only to the commit, not while thousands of rows go in. When it runs out, the vouchers
    beyond it are taken back in the same transaction.

    No notification row is written per member: the voucher itself is the message, shown in
    the member's wallet and among their messages in the app (surfaces.app.notices)."""
    if not eligible:
        return 0
    issued = sorted(sql.vouchers_insert(campaign=campaign, member_ids=eligible, now=now))
    taken = perk_inventory_take_up_to(perk_id=campaign.perk_id, count=len(issued)) if issued else 0
    if taken < len(issued):
        Voucher.objects.filter(campaign=campaign, member_id__in=issued[taken:]).delete()
    return taken


def _audience_tier(slug: str | None) -> Tier | None:
    if slug is None or slug == "":
        return None
    tier = Tier.objects.filter(slug=slug).first()
    if tier is None:
        slugs = ", ".join(Tier.objects.order_by("rank").values_list("slug", flat=True))
        raise Invalid(f"Unknown tier {slug!r}; one of {slugs}.", param="min_tier")
    return tier


def _audience_score(score: int | None) -> int | None:
    if score is None:
        return None
    if not isinstance(score, int) or isinstance(score, bool) or not SCORE_MIN <= score <= SCORE_MAX:
        raise Invalid(f"min_score is a whole number from {SCORE_MIN} to {SCORE_MAX}.", param="min_score")
    return score


def vouchers_auto_issue(
    *, member_id: int, tier: str, previous_tier: str | None, changed_at: datetime | None = None
) -> list[Voucher]:
    """Give a member who reached `tier` (from `previous_tier`, at `changed_at`) every live
    auto-issue perk whose minimum tier they crossed; returns the vouchers issued now.

    Idempotent per perk: a member who still holds an unexpired, unused auto voucher of the
    perk gets no other, so a retried or duplicated task issues nothing twice, and neither
    does a member going down and up again while their voucher is still good. Nor does a
    member who got one since `changed_at`, even if it is spent: this change was served
    (by its task or by the sweep, whichever came first). Once it is used or expired,
    reaching the tier again earns a new one (a merchant who wants "once ever" sets the
    perk's per-member limit). Refusals (a hold, the limit, the inventory) are skipped and
    logged: nobody is waiting for an answer.
    """
    reached = Tier.objects.get(slug=tier)
    before = Tier.objects.filter(slug=previous_tier).first() if previous_tier else None
    perks = list(perks_auto_issued_on_reaching(tier=reached, previous_tier=before))
    return _auto_issue(member_id, perks, changed_at)


def vouchers_auto_issue_due(
    *, batch: int = AUTO_ISSUE_SWEEP_BATCH, grace: timedelta = AUTO_ISSUE_GRACE, now: datetime | None = None
) -> int:
    """Beat's sweep behind `vouchers_auto_issue_task`, whose message a broker that was down
    lost: the auto-issue of up to `batch` tier changes, in the order they were written, as
    their task would have done it; the number of vouchers issued.

    The record of the work due is the tier change itself (`TierChange`, written in the
    transaction that moves the member, by every path: joining, recomputation, the nightly
    bulk run), read from where the sweep stopped (`AutoIssueSweep`). That costs one row in
    all, instead of a "done" row per tier change: what makes a change served once is the
    voucher, as `vouchers_auto_issue` checks it under the member's claims lock (one issued
    since the change, even spent, means the task came first). A bounded reconciliation of
    "members of tier T without T's perks" was the other way; it cannot tell a member who
    spent the voucher from one who never got it, and reads the whole tier every run.

    The sweep reads the changes up to the newest one it saw `grace` ago: by then the
    transactions that wrote them have committed (a change is written at the end of its
    transaction), and their own tasks have had their chance. Its first run starts at the
    newest change: what came before had its task."""
    now = now or timezone.now()
    progress = _sweep_progress(now)
    if progress.seen_at > now - grace:
        return 0
    upward = Q(previous_tier=None) | Q(tier__rank__gt=F("previous_tier__rank"))
    changes = list(
        TierChange.objects.filter(upward, pk__gt=progress.through, pk__lte=progress.seen)
        .select_related("tier", "previous_tier")
        .order_by("pk")[:batch]
    )
    crossed: dict[tuple[int, int | None], list[Perk]] = {}
    issued = 0
    for change in changes:
        key = (change.tier_id, change.previous_tier_id)
        if key not in crossed:
            crossed[key] = list(
                perks_auto_issued_on_reaching(tier=change.tier, previous_tier=change.previous_tier)
            )
        issued += len(_auto_issue(change.member_id, crossed[key], change.changed_at))
    _sweep_advance(progress, changes[-1].pk if len(changes) == batch else progress.seen, now)
    return issued


def _auto_issue(member_id: int, perks: list[Perk], changed_at: datetime | None) -> list[Voucher]:
    """Issue each of `perks` to the member unless served already, one perk a transaction.
    A member erased since has nothing to receive."""
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        return []
    issued: list[Voucher] = []
    for perk in perks:
        with transaction.atomic():
            member_claims_lock(member_id)
            if _auto_voucher_held(perk, member_id, changed_at):
                continue
            try:
                issued.append(voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO))
            except Refused as refusal:
                log.info("auto-issue of %s to member %s skipped: %s", perk.ref, member_id, refusal.code)
    return issued


def _auto_voucher_held(perk: Perk, member_id: int, since: datetime | None) -> bool:
    """The member holds an auto voucher of the perk still good, or got one at `since` or after."""
    held = Q(status=VoucherStatus.ISSUED, expires_at__gt=timezone.now())
    if since is not None:
        held |= Q(issued_at__gte=since)
    return Voucher.objects.filter(held, perk=perk, member_id=member_id, source=VoucherSource.AUTO).exists()


def _sweep_progress(now: datetime) -> AutoIssueSweep:
    """The sweep's row; its first run makes it at the newest tier change."""
    newest = _newest_tier_change()
    progress, _ = AutoIssueSweep.objects.get_or_create(
        pk=1, defaults={"through": newest, "seen": newest, "seen_at": now}
    )
    return progress


def _sweep_advance(progress: AutoIssueSweep, through: int, now: datetime) -> None:
    """Record how far this run got; once it has caught up with what it saw, look again.
    Conditional on the row as read, so of two runs at once only one moves it."""
    fields: dict[str, Any] = {"through": through}
    if through == progress.seen:
        fields.update(seen=_newest_tier_change(), seen_at=now)
    AutoIssueSweep.objects.filter(pk=progress.pk, through=progress.through, seen=progress.seen).update(
        **fields
    )


def _newest_tier_change() -> int:
    return TierChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
