"""Reading campaigns: one merchant's own, their progress, and their codes for export."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from loyalty.members.selectors import linked_member_ids
from perks.merchants.models import Merchant
from perks.vouchers.campaigns.errors import CampaignNotFound
from perks.vouchers.codes import code_format
from perks.vouchers.models import Campaign, CampaignStatus, Voucher

CSV_HEADER = ("code", "member", "status")
CSV_BATCH = 5000


@dataclass(frozen=True)
class CampaignProgress:
    ref: str
    status: str
    total: int
    issued: int
    skipped: int

    @property
    def processed(self) -> int:
        return self.issued + self.skipped

    @property
    def percent(self) -> int:
        """How far along, 0 to 100; a finished campaign is 100 even with an empty audience."""
        if self.status == CampaignStatus.DONE:
            return 100
        return min(100, self.processed * 100 // self.total) if self.total else 0

    @property
    def is_running(self) -> bool:
        return self.status in (CampaignStatus.PENDING, CampaignStatus.RUNNING)


def campaigns_of_merchant(*, merchant: Merchant) -> QuerySet[Campaign]:
    return Campaign.objects.filter(merchant=merchant).select_related("perk", "audience_min_tier")


def campaign_by_ref(*, merchant: Merchant, ref: str) -> Campaign:
    """One of the merchant's campaigns; another merchant's is as unknown as one that does not exist."""
    campaign = campaigns_of_merchant(merchant=merchant).filter(ref=ref).first()
    if campaign is None:
        raise CampaignNotFound(param="campaign")
    return campaign


def campaign_progress(*, campaign: Campaign) -> CampaignProgress:
    """The counters as committed now (the campaign object passed in may be stale)."""
    row = Campaign.objects.values("status", "total", "issued", "skipped").get(pk=campaign.pk)
    return CampaignProgress(ref=campaign.ref, **row)


def campaign_codes_csv(*, campaign: Campaign) -> Iterator[str]:
    """The campaign's vouchers as CSV lines (code as people type it, member ref, status),
    read in batches by primary key so an export of a million never sits in memory.

    A campaign reaches every eligible member, but tells the merchant only who it already
    knows: the member cell is empty unless the member has an active link with it."""
    yield _csv_line(CSV_HEADER)
    merchant_ref = campaign.merchant.ref
    vouchers = Voucher.objects.filter(campaign=campaign).order_by("pk")
    last = 0
    while True:
        batch = list(
            vouchers.filter(pk__gt=last).values_list("pk", "code", "member_id", "member__ref", "status")[
                :CSV_BATCH
            ]
        )
        if not batch:
            return
        linked = linked_member_ids(member_ids=(row[2] for row in batch), merchant_ref=merchant_ref)
        yield "".join(
            _csv_line((code_format(code), ref if member_id in linked else "", status))
            for _, code, member_id, ref, status in batch
        )
        last = batch[-1][0]


def _csv_line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()
