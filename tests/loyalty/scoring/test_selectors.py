from itertools import count

import pytest
from django.utils import timezone

from loyalty.members.models import Dimension, Member
from loyalty.scoring.errors import TierNotFound
from loyalty.scoring.models import PLATFORM_SOURCE, MemberStanding, Tier
from loyalty.scoring.selectors import Explanation, audience, score_explanation, standing_of, tier_by_slug
from loyalty.scoring.services import ScoreEventInput, score_events_record, score_recompute
from tests.factories import JoinedMemberFactory

pytestmark = pytest.mark.django_db
ids = count()


def explained(member: Member) -> Explanation:
    explanation = score_explanation(member=member)
    assert explanation is not None
    return explanation


def record(member, kind, times=1):
    events = [ScoreEventInput(f"s{next(ids)}", member.pk, kind, timezone.now()) for _ in range(times)]
    score_events_record(source=PLATFORM_SOURCE, events=events)
    score_recompute(member_ids=[member.pk])


def test_a_new_member_is_told_the_starting_score_and_that_unshared_data_does_not_count():
    explanation = explained(JoinedMemberFactory.create())

    codes = [reason.code for reason in explanation.reasons]
    assert codes[0] == "starting_score"
    assert "500" in explanation.reasons[0].text_en
    assert "500" in explanation.reasons[0].text_zh
    assert len(codes) <= 4
    assert not any(c.shared for c in explanation.contributions)


def test_the_explanation_names_what_lowered_the_score_and_what_would_raise_it():
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT])
    record(member, "payment_missed", 2)
    record(member, "rental_returned_on_time", 2)

    explanation = explained(member)

    codes = [reason.code for reason in explanation.reasons]
    assert codes[0] == "lowered_payment_history"
    assert "raise_payment_history" in codes
    assert "raise_fulfilment" in codes
    raise_payment = next(r for r in explanation.reasons if r.code == "raise_payment_history")
    assert raise_payment.text_en == f"Two more on-time payments: about +{raise_payment.params['points']}"
    assert raise_payment.text("zh-hans").startswith("再按时付款两次")
    shown = {c.dimension: c for c in explanation.contributions}
    assert shown[Dimension.PAYMENT_HISTORY].points < 0


def test_the_contributions_add_up_to_the_score():
    member = JoinedMemberFactory.create(consents=list(Dimension.values))
    for kind, times in [
        ("payment_on_time", 5),
        ("booking_no_show", 1),
        ("purchase", 9),
        ("asset_declared", 1),
    ]:
        record(member, kind, times)

    explanation = explained(member)

    assert explanation.score == 500 + (sum(c.milli for c in explanation.contributions) + 500) // 1000


def test_a_saturated_dimension_offers_no_raise():
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    record(member, "payment_on_time", 15)

    codes = [reason.code for reason in explained(member).reasons]

    assert "raise_payment_history" not in codes


def test_the_audience_of_a_tier_or_a_score_is_ordered_by_primary_key():
    members = [JoinedMemberFactory.create() for _ in range(4)]
    gold, diamond = Tier.objects.get(slug="gold"), Tier.objects.get(slug="diamond")
    MemberStanding.objects.filter(member=members[1]).update(tier=gold, score=610)
    MemberStanding.objects.filter(member=members[3]).update(tier=diamond, score=720)

    assert list(audience(min_tier="gold")) == [members[1], members[3]]
    assert list(audience(min_score=700)) == [members[3]]
    assert list(audience(min_tier="starter", min_score=600)) == [members[1], members[3]]
    with pytest.raises(TierNotFound):
        audience(min_tier="mithril")


def test_standing_and_tier_by_slug():
    member = JoinedMemberFactory.create()

    standing = standing_of(member=member)

    assert (standing.score, standing.tier, standing.pending_downgrade_on) == (
        500,
        tier_by_slug("starter"),
        None,
    )
