"""Tier hysteresis across time: upgrades at once, downgrades only after the grace period."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import Dimension
from loyalty.scoring.bands import band_problems
from loyalty.scoring.models import MemberStanding, Tier, TierChange, TierChangeCause
from loyalty.scoring.selectors import standing_of, tier_history
from loyalty.scoring.services import (
    ScoreEventInput,
    score_events_record,
    score_recompute,
    scores_recompute_all,
    tier_bands_check,
    tiers_downgrade_due,
)
from tests.factories import MERCHANT_REF, JoinedMemberFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ids = count()


def record(member, kind, times=1):
    events = [ScoreEventInput(f"t{next(ids)}", member.pk, kind, timezone.now()) for _ in range(times)]
    score_events_record(source=MERCHANT_REF, events=events)
    score_recompute(member_ids=[member.pk])


def tier_of(member):
    return MemberStanding.objects.select_related("tier").get(member=member).tier.slug


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def diamond_member(clock):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT])
    record(member, "payment_on_time", 12)
    record(member, "rental_returned_on_time", 8)
    assert tier_of(member) == "diamond"
    return member


def test_an_upgrade_applies_at_once(clock):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])

    record(member, "payment_on_time", 4)

    assert tier_of(member) == "silver"
    assert standing_of(member=member).pending_downgrade_on is None


def test_a_fall_below_the_band_waits_for_the_grace_period_and_shows_the_date(clock, diamond_member):
    record(diamond_member, "payment_missed", 2)
    standing = standing_of(member=diamond_member)
    pending = standing.pending_tier
    assert pending is not None

    assert standing.tier.slug == "diamond"
    assert standing.score < 700
    assert standing.pending_downgrade_on == START + timedelta(days=30)
    assert pending.slug == Tier.objects.get(min_score__lte=standing.score, max_score__gte=standing.score).slug

    clock.move_to(START + timedelta(days=29, hours=23))
    scores_recompute_all()
    tiers_downgrade_due()
    assert tier_of(diamond_member) == "diamond"

    clock.move_to(START + timedelta(days=30))
    tiers_downgrade_due()
    after = standing_of(member=diamond_member)
    assert after.tier.slug == pending.slug
    assert after.pending_downgrade_on is None
    latest = tier_history(member=diamond_member).first()
    assert latest is not None
    assert latest.previous_tier is not None
    assert (latest.previous_tier.slug, latest.tier.slug, latest.cause) == (
        "diamond",
        pending.slug,
        TierChangeCause.DOWNGRADE,
    )


def test_the_nightly_run_applies_a_due_downgrade_too(clock, diamond_member):
    record(diamond_member, "payment_missed", 2)

    clock.move_to(START + timedelta(days=31))
    scores_recompute_all()

    assert tier_of(diamond_member) != "diamond"


def test_recovering_within_the_grace_period_keeps_the_tier(clock, diamond_member):
    record(diamond_member, "payment_missed", 2)
    clock.move_to(START + timedelta(days=10))

    record(diamond_member, "payment_on_time", 12)
    clock.move_to(START + timedelta(days=45))
    tiers_downgrade_due()
    scores_recompute_all()

    assert tier_of(diamond_member) == "diamond"
    assert standing_of(member=diamond_member).pending_downgrade_on is None
    assert not TierChange.objects.filter(member=diamond_member, cause=TierChangeCause.DOWNGRADE).exists()


def test_the_grace_period_counts_from_the_first_fall_even_through_a_lower_band(clock, diamond_member):
    record(diamond_member, "payment_missed", 2)
    clock.move_to(START + timedelta(days=20))
    record(diamond_member, "booking_no_show", 4)

    assert standing_of(member=diamond_member).pending_downgrade_on == START + timedelta(days=30)


def test_the_grace_period_is_a_setting(clock, diamond_member, settings):
    settings.TIER_DOWNGRADE_GRACE_DAYS = 7
    record(diamond_member, "payment_missed", 2)

    clock.move_to(START + timedelta(days=7))
    tiers_downgrade_due()

    assert tier_of(diamond_member) != "diamond"


def test_bands_with_a_gap_or_an_overlap_are_refused():
    silver = Tier.objects.get(slug="silver")
    silver.max_score = 590

    with pytest.raises(Invalid):
        tier_bands_check(changed=silver, others=Tier.objects.all())
    assert band_problems([(1, 350, 549), (2, 550, 950)]) == []
    assert band_problems([(1, 350, 600), (2, 550, 950)]) != []
    assert band_problems([(1, 360, 950)]) != []


def test_a_tier_edit_in_the_admin_form_is_checked(admin_client):
    silver = Tier.objects.get(slug="silver")

    response = admin_client.post(
        f"/admin/scoring/tier/{silver.pk}/change/",
        {
            "slug": "silver",
            "name": "Silver",
            "name_zh": "白银",
            "rank": 2,
            "min_score": 550,
            "max_score": 590,
        },
    )

    assert response.status_code == 200
    assert "must meet" in response.content.decode()
    silver.refresh_from_db()
    assert silver.max_score == 599
