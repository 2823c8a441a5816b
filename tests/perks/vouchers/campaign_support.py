"""What the campaign tests share: members standing in a tier, a merchant with its owner."""

from loyalty.members.models import Member
from loyalty.scoring.models import MemberStanding, Tier
from tests.factories import MemberFactory


def members_in(slug: str, count: int, *, score_offset: int = 0) -> list[Member]:
    tier = Tier.objects.get(slug=slug)
    members = MemberFactory.create_batch(count)
    MemberStanding.objects.bulk_create(
        MemberStanding(member=m, score=tier.min_score + score_offset, tier=tier) for m in members
    )
    return members
