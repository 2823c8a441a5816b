from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from loyalty.scoring.models import Tier
from perks.catalog.models import LimitPeriod, PerkStatus
from perks.catalog.rules import limit_window_start, perk_admits_standing, perk_is_live
from perks.catalog.selectors import perks_auto_issued_on_reaching, perks_live_of_merchant
from perks.merchants.models import MerchantStatus
from tests.factories import PerkFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Thursday, 01:30 in Shanghai: still Wednesday in UTC.
AT = datetime(2026, 1, 15, 1, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("period", "start"),
    [
        (LimitPeriod.LIFETIME, None),
        (LimitPeriod.DAY, datetime(2026, 1, 15, tzinfo=SHANGHAI)),
        (LimitPeriod.WEEK, datetime(2026, 1, 12, tzinfo=SHANGHAI)),
        (LimitPeriod.MONTH, datetime(2026, 1, 1, tzinfo=SHANGHAI)),
        (LimitPeriod.YEAR, datetime(2026, 1, 1, tzinfo=SHANGHAI)),
    ],
)
def test_limit_periods_are_calendar_periods_in_the_platforms_time_zone(settings, period, start):
    assert settings.TIME_ZONE == "Asia/Shanghai"

    assert limit_window_start(period=period, at=AT.astimezone(ZoneInfo("UTC"))) == start


@pytest.mark.django_db
def test_a_perk_admits_by_tier_rank_or_by_score():
    gold, platinum = Tier.objects.get(slug="gold"), Tier.objects.get(slug="platinum")
    by_tier = PerkFactory.build(min_tier=platinum)
    by_score = PerkFactory.build(min_score=650)
    open_to_all = PerkFactory.build()

    assert not perk_admits_standing(perk=by_tier, score=649, tier=gold)
    assert perk_admits_standing(perk=by_tier, score=650, tier=platinum)
    assert not perk_admits_standing(perk=by_score, score=649, tier=platinum)
    assert perk_admits_standing(perk=by_score, score=650, tier=gold)
    assert perk_admits_standing(perk=open_to_all, score=350, tier=Tier.objects.get(slug="starter"))


@pytest.mark.django_db
def test_live_means_active_inside_the_window_at_a_merchant_in_good_standing():
    now = timezone.now()
    live = PerkFactory.create()
    PerkFactory.create(merchant=live.merchant, status=PerkStatus.PAUSED)
    PerkFactory.create(merchant=live.merchant, valid_from=now + timedelta(days=1))
    PerkFactory.create(
        merchant=live.merchant, valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1)
    )

    assert list(perks_live_of_merchant(merchant=live.merchant)) == [live]
    assert perk_is_live(perk=live, at=timezone.now())
    assert not perk_is_live(perk=live, at=live.valid_from - timedelta(seconds=1))
    live.merchant.status = MerchantStatus.PAUSED_BILLING
    live.merchant.save()
    assert not perks_live_of_merchant(merchant=live.merchant).exists()
    assert not perk_is_live(perk=live, at=timezone.now())


@pytest.mark.django_db
def test_auto_issue_perks_are_those_whose_tier_was_just_crossed():
    tiers = {t.slug: t for t in Tier.objects.all()}
    gold = PerkFactory.create(min_tier=tiers["gold"], auto_issue=True)
    platinum = PerkFactory.create(min_tier=tiers["platinum"], auto_issue=True)
    PerkFactory.create(min_tier=tiers["platinum"], auto_issue=False)
    PerkFactory.create(min_tier=tiers["diamond"], auto_issue=True)

    reached = perks_auto_issued_on_reaching(tier=tiers["platinum"], previous_tier=tiers["silver"])
    assert set(reached) == {gold, platinum}
    reached = perks_auto_issued_on_reaching(tier=tiers["platinum"], previous_tier=tiers["gold"])
    assert set(reached) == {platinum}
    assert set(perks_auto_issued_on_reaching(tier=tiers["gold"], previous_tier=None)) == {gold}
