"""The dashboard's daily rollup: kept by the redemption side effects and beat's recount, it
equals a count made directly from the redemptions, their usage rows and the vouchers,
whatever the order of redemptions, reversals, retried side effects and recounts."""

from collections import defaultdict
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from config.schedule import BEAT_SCHEDULE
from loyalty.points.models import PointsTransaction, TransactionKind
from loyalty.points.services import points_earn_purchases, points_transaction_reverse
from perks.catalog.models import PerkType
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create
from perks.vouchers.errors import AlreadyReversed
from perks.vouchers.models import (
    LocationDayTotal,
    MerchantDay,
    PerkDay,
    PerkDayTotal,
    Redemption,
    RedemptionReversal,
    UsageKind,
    UsageRecord,
    Voucher,
)
from perks.vouchers.services import (
    redemption_reverse,
    redemption_side_effects_apply,
    reversal_side_effects_apply,
    voucher_issue,
    voucher_redeem,
)
from perks.vouchers.services.rollup import COUNTS, rollup_day, rollup_recount, rollup_recount_recent
from perks.vouchers.services.side_effects import (
    redemption_side_effects_due,
    redemptions_side_effects_apply,
    reversals_side_effects_apply,
)
from perks.vouchers.tasks import rollup_recount_recent as recount_task
from tests.factories import (
    EarnRuleFactory,
    JoinedMemberFactory,
    LocationFactory,
    MerchantFactory,
    PerkFactory,
    PurchaseFactory,
    StaffFactory,
)
from tests.support.migrations import migrate_to
from tests.support.races import race

pytestmark = pytest.mark.django_db

WAIVER = {"type": PerkType.DEPOSIT_WAIVER, "params": {"max_amount": "300.00", "currency": "CNY"}}
DAYS_BACK = 3


def _direct(merchant) -> dict:
    """Per (day, perk, location): redeemed, reversed, deposits waived and their value, from
    the redemptions whose usage rows are recorded, counted here without the rollup's code."""
    kinds = defaultdict(set)
    for redemption_id, kind in UsageRecord.objects.filter(merchant=merchant).values_list(
        "redemption_id", "kind"
    ):
        kinds[redemption_id].add(kind)
    zone = ZoneInfo(django_settings.TIME_ZONE)
    counted: defaultdict[tuple, list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for redemption in Redemption.objects.filter(merchant=merchant).select_related("voucher__perk"):
        row = counted[
            (
                redemption.occurred_at.astimezone(zone).date(),
                redemption.voucher.perk_id,
                redemption.location_id,
            )
        ]
        waiver = redemption.voucher.perk.type == PerkType.DEPOSIT_WAIVER
        amount = Decimal(redemption.benefit["waived_amount"]) if waiver else Decimal(0)
        for kind, column, sign in ((UsageKind.REDEMPTION, 0, 1), (UsageKind.REVERSAL, 1, -1)):
            if kind in kinds[redemption.pk]:
                row[column] += 1
                row[2] += sign * waiver
                row[3] += sign * amount
    return {key: row for key, row in counted.items() if any(row)}


def _rolled(merchant) -> dict:
    rows = PerkDay.objects.filter(merchant=merchant).values_list(
        "day", "perk_id", "location_id", "redeemed", "reversed", "deposits_waived", "deposits_waived_amount"
    )
    return {(day, perk, location): list(counts) for day, perk, location, *counts in rows if any(counts[:3])}


def _summed(merchant, key: tuple[str, ...], counts: tuple[str, ...]) -> dict:
    """The merchant's PerkDay rows summed by `key` in Python, zero sums left out."""
    summed: defaultdict[tuple, list[Any]] = defaultdict(lambda: [0] * len(counts))
    for row in PerkDay.objects.filter(merchant=merchant).values(*key, *counts):
        sums = summed[tuple(row[name] for name in key)]
        for n, name in enumerate(counts):
            sums[n] += row[name]
    return {k: v for k, v in summed.items() if any(v)}


def _stored(model, merchant, key: tuple[str, ...], counts: tuple[str, ...]) -> dict:
    rows = model.objects.filter(merchant=merchant).values_list(*key, *counts)
    return {tuple(row[: len(key)]): list(row[len(key) :]) for row in rows if any(row[len(key) :])}


def _totals_agree(merchant) -> None:
    """Each perk's and each location's day totals are the sums of its PerkDay rows."""
    for model, key, counts in (
        (PerkDayTotal, ("day", "perk_id"), COUNTS),
        (LocationDayTotal, ("day", "location_id"), ("redeemed", "reversed")),
    ):
        assert _stored(model, merchant, key, counts) == _summed(merchant, key, counts), model.__name__


def _issued_direct(merchant) -> dict:
    zone = ZoneInfo(django_settings.TIME_ZONE)
    counted: defaultdict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for voucher in merchant.vouchers.all():
        row = counted[(voucher.issued_at.astimezone(zone).date(), voucher.perk_id)]
        row[0] += 1
        row[1] += voucher.source == "claim"
    return dict(counted)


def _issued_rolled(merchant) -> dict:
    counted: defaultdict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for day, perk, issued, claimed in PerkDay.objects.filter(merchant=merchant).values_list(
        "day", "perk_id", "issued", "claimed"
    ):
        counted[(day, perk)][0] += issued
        counted[(day, perk)][1] += claimed
    return {key: row for key, row in counted.items() if any(row)}


class Shop(RuleBasedStateMachine):
    """Random redemptions (some of deposit waivers, at a location or none, over a few days),
    reversals, side effects applied one at a time, in batches, by the drain and again, and
    recounts; after every step the rollup equals the direct count."""

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.merchant = MerchantFactory.create()
        self.owner = StaffFactory.create(merchant=self.merchant, role=Role.OWNER).user
        self.key = api_key_create(
            merchant=self.merchant, actor=self.owner, name="Till", scopes=Scope.values
        ).key
        since = timezone.now() - timedelta(days=DAYS_BACK + 1)
        self.perks = [
            PerkFactory.create(merchant=self.merchant, valid_from=since),
            PerkFactory.create(merchant=self.merchant, valid_from=since),
            PerkFactory.create(merchant=self.merchant, valid_from=since, **WAIVER),
        ]
        self.locations = [LocationFactory.create(merchant=self.merchant) for _ in range(2)]
        self.member = JoinedMemberFactory.create()
        self.redemptions: list[Redemption] = []

    @rule(
        perk=st.integers(0, 2),
        location=st.sampled_from([None, 0, 1]),
        days_ago=st.integers(0, DAYS_BACK),
        amount=st.integers(1, 500),
    )
    def redeem(self, perk, location, days_ago, amount):
        voucher = voucher_issue(perk=self.perks[perk], member=self.member, actor=self.owner)
        since = timezone.now() - timedelta(days=DAYS_BACK, minutes=2)
        Voucher.objects.filter(pk=voucher.pk).update(valid_from=since, issued_at=since)
        waiver = self.perks[perk].type == PerkType.DEPOSIT_WAIVER
        self.redemptions.append(
            voucher_redeem(
                merchant=self.merchant,
                actor=self.key,
                code=voucher.code,
                location_code=None if location is None else self.locations[location].code,
                amount=f"{amount}.50" if waiver else None,
                currency="CNY" if waiver else None,
                occurred_at=timezone.now() - timedelta(days=days_ago, minutes=1),
            )
        )

    @precondition(lambda self: self.redemptions)
    @rule(pick=st.integers(0, 1000))
    def reverse(self, pick):
        with suppress(AlreadyReversed):
            redemption_reverse(redemption=self.redemptions[pick % len(self.redemptions)], actor=self.owner)

    @precondition(lambda self: self.redemptions)
    @rule(pick=st.integers(0, 1000))
    def apply_one(self, pick):
        redemption_side_effects_apply(redemption_id=self.redemptions[pick % len(self.redemptions)].pk)

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def apply_some_again(self, data):
        ids = data.draw(st.lists(st.sampled_from([r.pk for r in self.redemptions]), unique=True))
        redemptions_side_effects_apply(redemption_ids=ids)

    @rule()
    def drain(self):
        redemption_side_effects_due()

    @rule(one=st.booleans())
    def apply_reversals(self, one):
        ids = list(
            RedemptionReversal.objects.filter(redemption__merchant=self.merchant).values_list("pk", flat=True)
        )
        if one and ids:
            reversal_side_effects_apply(reversal_id=ids[-1])
        else:
            reversals_side_effects_apply(reversal_ids=ids)

    @rule()
    def recount(self):
        today = rollup_day(timezone.now())
        rollup_recount(first=today - timedelta(days=DAYS_BACK + 1), last=today, merchant=self.merchant)
        assert _issued_rolled(self.merchant) == _issued_direct(self.merchant)

    @invariant()
    def equals_the_direct_count(self):
        assert _rolled(self.merchant) == _direct(self.merchant)
        _totals_agree(self.merchant)

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)


def test_random_redemptions_reversals_and_retries_keep_the_rollup_equal_to_a_direct_count():
    run_state_machine_as_test(
        Shop,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.fixture
def shop():
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).key
    return merchant, owner, key


def _redeem(merchant, owner, key, perk, **kwargs):
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner)
    return voucher_redeem(merchant=merchant, actor=key, code=voucher.code, **kwargs)


def test_a_side_effect_retried_counts_once(shop):
    merchant, owner, key = shop
    perk = PerkFactory.create(merchant=merchant)
    first, second = _redeem(merchant, owner, key, perk), _redeem(merchant, owner, key, perk)

    for _ in range(2):
        redemption_side_effects_apply(redemption_id=first.pk)
        redemptions_side_effects_apply(redemption_ids=[first.pk, second.pk])
        redemption_side_effects_due()
    reversal = RedemptionReversal.objects.get(
        redemption=redemption_reverse(redemption=first, actor=owner).redemption
    )
    for _ in range(2):
        reversal_side_effects_apply(reversal_id=reversal.pk)
        reversals_side_effects_apply(reversal_ids=[reversal.pk])

    row = PerkDay.objects.get(merchant=merchant, perk=perk)
    assert (row.redeemed, row.reversed) == (2, 1)
    total = PerkDayTotal.objects.get(merchant=merchant, perk=perk)
    assert (total.redeemed, total.reversed) == (2, 1)
    _totals_agree(merchant)


def test_the_recount_repairs_a_wrong_row_and_counts_issuing(shop):
    merchant, owner, key = shop
    perk = PerkFactory.create(merchant=merchant, **WAIVER)
    location = LocationFactory.create(merchant=merchant)
    redemption = _redeem(
        merchant, owner, key, perk, location_code=location.code, amount="120", currency="CNY"
    )
    voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner)  # issued, unused
    redemption_side_effects_due()
    PerkDay.objects.filter(merchant=merchant, location=location).update(redeemed=7, deposits_waived_amount=1)
    PerkDay.objects.create(
        merchant=merchant, day=rollup_day(timezone.now()) - timedelta(days=1), perk=perk, redeemed=3
    )
    PerkDayTotal.objects.filter(merchant=merchant).update(claimed=5)
    LocationDayTotal.objects.filter(merchant=merchant).update(reversed=2)

    assert rollup_recount_recent() == 3
    assert rollup_recount_recent() == 0  # a second run finds nothing to change

    today = rollup_day(redemption.occurred_at)
    rows = PerkDay.objects.filter(merchant=merchant).exclude(issued=0, redeemed=0)
    assert {
        (r.day, r.location_id, r.issued, r.redeemed, r.deposits_waived, r.deposits_waived_amount)
        for r in rows
    } == {
        (today, location.pk, 0, 1, 1, Decimal("120")),
        (today, None, 2, 0, 0, Decimal(0)),
    }
    _totals_agree(merchant)


def test_the_recount_counts_points_funded_net_of_reversed_earns(shop):
    merchant, _owner, _key = shop
    EarnRuleFactory.create(merchant_category=merchant.category)
    member = JoinedMemberFactory.create()
    earned = points_earn_purchases(
        merchant_ref=merchant.ref,
        merchant_name=merchant.name,
        merchant_category=merchant.category,
        purchases=[PurchaseFactory.create(member_id=member.pk, amount=Decimal("100")) for _ in range(2)],
    )
    rollup_recount_recent()
    assert MerchantDay.objects.get(merchant=merchant).points_funded == earned.points == 200

    earns = PointsTransaction.objects.filter(merchant_ref=merchant.ref, kind=TransactionKind.EARN)
    first = earns.earliest("pk")
    points_transaction_reverse(
        transaction=first, idempotency_key="undo-1", note="till error", actor="operator:test"
    )
    rollup_recount_recent()
    assert MerchantDay.objects.get(merchant=merchant).points_funded == 100


def test_beat_recounts_every_few_minutes_through_the_task():
    entry = next(e for e in BEAT_SCHEDULE.values() if e["task"] == "vouchers.rollup_recount_recent")
    assert entry["task"] == recount_task.name


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_recounts_racing_side_effects_lose_and_double_no_redemption():
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).key
    perk = PerkFactory.create(merchant=merchant)
    locations = [LocationFactory.create(merchant=merchant) for _ in range(3)]
    redemptions = [
        _redeem(merchant, owner, key, perk, location_code=locations[n % 3].code) for n in range(24)
    ]
    chunks = [[r.pk for r in redemptions[n::4]] for n in range(4)]

    def work(n):
        if n < 4:
            redemptions_side_effects_apply(redemption_ids=chunks[n])
        else:
            rollup_recount_recent()

    race(work, threads=8)

    assert _rolled(merchant) == _direct(merchant)
    assert sum(row[0] for row in _rolled(merchant).values()) == 24
    _totals_agree(merchant)


@pytest.mark.django_db(transaction=True)
def test_the_migration_sums_the_rows_there_are():
    merchant = MerchantFactory.create()
    perks = [PerkFactory.create(merchant=merchant) for _ in range(2)]
    locations = [LocationFactory.create(merchant=merchant) for _ in range(2)]
    today = rollup_day(timezone.now())
    for n, (perk, location) in enumerate(product(perks, [None, *locations])):
        PerkDay.objects.create(
            merchant=merchant,
            perk=perk,
            location=location,
            day=today - timedelta(days=n % 2),
            issued=0 if location else 5,
            redeemed=n + 1 if location else 0,
            reversed=n % 2,
            deposits_waived=n,
            deposits_waived_amount=Decimal(n) / 4,
        )
    try:
        migrate_to(("vouchers", "0008_part_history"))
        migrate_to(("vouchers", "0009_dash_rollup_totals"))
        assert PerkDayTotal.objects.count() == 4
        _totals_agree(merchant)
    finally:
        migrate_to()  # every app at its latest again, for the tests after this one
