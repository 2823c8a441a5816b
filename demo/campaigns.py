"""The demo's finished campaign: the coffee chain's perk to its gold members and above.

Run here and now through the same services a worker runs (the demo has no worker while it
is seeded): planned, then each chunk issued. The messages the services queue for after
commit find the work done when the demo's worker starts, and return.
"""

from perks.merchants.models import Merchant, Staff
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import campaign_chunk_issue, campaign_create, campaign_plan
from perks.vouchers.models import Campaign

CATEGORY = "coffee"
AUDIENCE_TIER = "gold"


def seed_campaign() -> Campaign:
    merchant = Merchant.objects.get(category=CATEGORY)
    owner = Staff.objects.select_related("user").get(merchant=merchant, role=Role.OWNER).user
    perk = merchant.perks.order_by("pk").first()
    assert perk is not None, "the demo merchants are seeded with a perk each"
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier=AUDIENCE_TIER)
    for chunk_id in campaign_plan(campaign_id=campaign.pk):
        campaign_chunk_issue(chunk_id=chunk_id)
    campaign.refresh_from_db()
    return campaign
