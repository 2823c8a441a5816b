"""The vouchers app's written-out statements (perks/vouchers/sql.py) answer as the ORM or
Python code each one replaces, run on the same rows: each pair is run in turn, the first
one's writes undone before the second runs."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from loyalty.members.models import LinkStart, Member
from loyalty.members.services import LinkInput, links_start
from loyalty.scoring.models import Tier
from loyalty.scoring.selectors import audience
from perks.catalog.models import Perk
from perks.vouchers.errors import VoucherAlreadyRedeemed
from perks.vouchers.models import (
    Campaign,
    LocationDayTotal,
    PerkDay,
    Redemption,
    RedemptionChannel,
    RedemptionReversal,
    Voucher,
    VoucherSource,
    VoucherStatus,
)
from perks.vouchers.services.redemption import _use_take
from perks.vouchers.services.side_effects import (
    redemption_side_effects_apply,
    redemptions_side_effects_apply,
    reversal_side_effects_apply,
    reversals_side_effects_apply,
)
from perks.vouchers.sql import (
    DUE_CLAIM,
    ID_RANGES,
    LOOKUPS_INSERT,
    ROLLUP_ADD,
    USAGE_INSERT,
    USE_TAKE,
    USE_TAKE_HELD,
    VOUCHER_FOR_USE,
    VOUCHERS_INSERT,
    due_claim,
    due_claim_orm,
    id_ranges,
    id_ranges_python,
    rollup_add,
    rollup_add_orm,
    use_take_orm,
    voucher_for_use,
    voucher_for_use_orm,
    vouchers_insert,
    vouchers_insert_orm,
)
from tests.factories import JoinedMemberFactory, MemberFactory, MerchantFactory, PerkFactory, VoucherFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.perks.vouchers.side_effects_support import shop, side_effect_rows
from tests.support.sql import executed, ran

pytestmark = pytest.mark.django_db


def values(obj: Model | None, *, leaving: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Every column's value of `obj` (None for no row), but those `leaving` out."""
    if obj is None:
        return None
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in leaving}


def undone(run: Callable[[], Any], read: Callable[[], Any]) -> tuple[Any, Any]:
    """What `run` answers and what `read` finds after it; everything `run` wrote is then
    undone, so that the other form starts from the same rows."""
    with transaction.atomic():
        answer = run()
        found = read()
        transaction.set_rollback(True)
    return answer, found


# VOUCHER_FOR_USE: the voucher with what a use of it reads, against the ORM's select_related.


def use_reads(voucher: Voucher | None) -> dict[str, Any] | None:
    """What a use of `voucher` reads, all of it already loaded (no query)."""
    if voucher is None:
        return None
    member = voucher.member
    standing = member.standing if hasattr(member, "standing") else None
    return {
        "voucher": values(voucher),
        "merchant": (voucher.merchant, voucher.perk.merchant),
        "perk": values(voucher.perk),
        "min_tier": values(voucher.perk.min_tier),
        "member": values(member),
        "standing": values(standing),
        "tier": values(standing.tier) if standing is not None else None,
    }


def voucher_cases() -> list[tuple[Any, str]]:
    """(merchant, code) pairs: a member with a standing and without, a perk with a minimum
    tier and without, another merchant's code and no voucher at all."""
    gold = Tier.objects.get(slug="gold")
    plain = VoucherFactory.create()
    (member,) = members_in("silver", 1)
    tiered = VoucherFactory.create(member=member, perk=PerkFactory.create(min_tier=gold))
    bare = VoucherFactory.create(member=MemberFactory.create(), perk=PerkFactory.create(min_score=600))
    other = MerchantFactory.create()
    return [
        (plain.merchant, plain.code),
        (tiered.merchant, tiered.code),
        (bare.merchant, bare.code),
        (other, plain.code),
        (plain.merchant, "0" * len(plain.code)),
    ]


@pytest.mark.parametrize("lock", [False, True])
def test_voucher_for_use_reads_what_the_orm_reads(lock, django_assert_num_queries):
    for merchant, code in voucher_cases():
        with transaction.atomic(), executed() as texts:
            written_out = voucher_for_use(merchant=merchant, code=code, lock=lock)
        assert ran(VOUCHER_FOR_USE, texts)
        with transaction.atomic():
            orm = voucher_for_use_orm(merchant=merchant, code=code, lock=lock)
        with django_assert_num_queries(0):
            assert use_reads(written_out) == use_reads(orm)
        assert (written_out is None) is (orm is None)
        if written_out is not None:
            assert written_out.merchant is merchant


def rows_locked_elsewhere(voucher: Voucher) -> dict[str, bool]:
    """Which of the rows a use reads another connection finds locked against its update."""
    rows = {
        "voucher": (Voucher, voucher.pk),
        "perk": (Perk, voucher.perk_id),
        "member": (Member, voucher.member_id),
    }
    locked = {}
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        for name, (model, pk) in rows.items():
            try:
                other.execute(
                    f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",  # noqa: S608
                    [pk],
                )
            except psycopg.errors.LockNotAvailable:
                locked[name] = True
            else:
                locked[name] = False
    return locked


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_voucher_for_use_locks_the_rows_the_orm_locks():
    voucher = VoucherFactory.create()
    found = {}
    for read in (voucher_for_use, voucher_for_use_orm):
        with transaction.atomic():
            read(merchant=voucher.merchant, code=voucher.code, lock=True)
            found[read.__name__] = rows_locked_elsewhere(voucher)

    assert found["voucher_for_use"] == found["voucher_for_use_orm"]
    assert found["voucher_for_use"] == {"voucher": True, "perk": False, "member": False}


# USE_TAKE and USE_TAKE_HELD: one use and its redemption's row, against the ORM's update.


def redemption_of(voucher: Voucher, now: Any) -> Redemption:
    return Redemption(
        voucher=voucher,
        merchant=voucher.merchant,
        channel=RedemptionChannel.API,
        benefit={"kind": "free_item"},
        actor="key:test",
        occurred_at=now,
        created_at=now,
    )


def use_rows(voucher: Voucher) -> tuple[dict[str, Any] | None, list[dict[str, Any] | None]]:
    redemptions = Redemption.objects.filter(voucher=voucher).order_by("pk")
    return values(Voucher.objects.get(pk=voucher.pk)), [values(r, leaving=("id", "ref")) for r in redemptions]


USES = [
    pytest.param({"uses_allowed": 1}, False, id="the-last-use"),
    pytest.param({"uses_allowed": 3, "uses_count": 1}, False, id="a-use-of-several"),
    pytest.param({"uses_allowed": 2, "uses_count": 1, "uses_reserved": 1}, False, id="no-room-left"),
    pytest.param({"uses_allowed": 2, "uses_count": 1, "uses_reserved": 1}, True, id="the-held-last-use"),
    pytest.param({"uses_allowed": 3, "uses_reserved": 2}, True, id="a-held-use-of-several"),
    pytest.param({"status": VoucherStatus.REVOKED}, False, id="revoked"),
    pytest.param(
        {"uses_allowed": 1, "uses_count": 1, "status": VoucherStatus.REDEEMED}, False, id="redeemed"
    ),
]


@pytest.mark.parametrize(("state", "holds"), USES)
def test_a_use_is_taken_as_the_orm_takes_it(state, holds):
    voucher = VoucherFactory.create(**state)
    now = timezone.now()

    def written_out() -> bool:
        read = Voucher.objects.get(pk=voucher.pk)
        try:
            with executed() as texts:
                _use_take(read, redemption_of(read, now), holds=holds, now=now)
        except VoucherAlreadyRedeemed:
            return False
        finally:
            assert ran(USE_TAKE_HELD if holds else USE_TAKE, texts)
        # The redemption path mirrors the UPDATE on the row it read, instead of reading it back.
        assert values(read) == values(Voucher.objects.get(pk=voucher.pk))
        return True

    def orm() -> bool:
        read = Voucher.objects.get(pk=voucher.pk)
        return use_take_orm(read, redemption_of(read, now), holds=holds, now=now)

    assert undone(written_out, lambda: use_rows(voucher)) == undone(orm, lambda: use_rows(voucher))


# ID_RANGES: a campaign's audience in runs of ids, against the ids cut in Python.


def test_an_audience_is_cut_into_the_runs_python_cuts():
    members_in("silver", 4)
    members_in("gold", 3)
    MemberFactory.create_batch(2)
    members_in("diamond", 2)
    audiences: list[QuerySet[Any]] = [
        audience(min_tier="gold"),
        audience(min_score=Tier.objects.get(slug="silver").min_score),
        Member.objects.all(),
        Member.objects.filter(pk__lt=0),
    ]

    for rows in audiences:
        for size in (1, 2, 3, 1000):
            with executed() as texts:
                written_out = id_ranges(rows, size=size)
            assert ran(ID_RANGES, texts)
            assert written_out == id_ranges_python(rows, size=size), (str(rows.query), size)


# VOUCHERS_INSERT: a chunk's vouchers in one statement, against one ORM insert per member.


def test_a_chunk_of_vouchers_goes_in_as_one_insert_per_member_would():
    now = timezone.now()
    perk = PerkFactory.create(uses_per_voucher=2, voucher_ttl_days=10, valid_until=now + timedelta(days=5))
    campaign = Campaign.objects.create(merchant=perk.merchant, perk=perk, created_by="key:test")
    members = [m.pk for m in MemberFactory.create_batch(4)]
    # One of them already holds the campaign's voucher: a chunk run again skips them.
    VoucherFactory.create(perk=perk, member_id=members[1], campaign=campaign, source=VoucherSource.CAMPAIGN)

    def rows() -> list[dict[str, Any] | None]:
        vouchers = Voucher.objects.filter(campaign=campaign).order_by("member_id")
        return [values(v, leaving=("id", "code")) for v in vouchers]

    with executed() as texts:
        written_out = undone(lambda: vouchers_insert(campaign=campaign, member_ids=members, now=now), rows)
    assert ran(VOUCHERS_INSERT, texts)
    orm = undone(lambda: vouchers_insert_orm(campaign=campaign, member_ids=members, now=now), rows)

    assert written_out == orm
    inserted, found = written_out
    assert sorted(inserted) == [members[0], *members[2:]]
    issued = [row for row in found if row is not None and row["member_id"] != members[1]]
    assert [(row["issued_at"], row["expires_at"]) for row in issued] == [(now, perk.valid_until)] * 3


# DUE_CLAIM: the drain's next batch, taken and marked, against the ORM's lock, read and update.


def test_the_next_batch_is_claimed_as_the_orm_claims_it():
    redemptions = side_effects_cases()  # the second one was applied before
    now = timezone.now()

    def claimed() -> list[tuple[int, Any]]:
        return list(Redemption.objects.order_by("pk").values_list("pk", "side_effects_at"))

    for batch in (1, 3, 100):
        with executed() as texts:
            written_out = undone(partial(due_claim, batch=batch, now=now), claimed)
        assert ran(DUE_CLAIM, texts)
        assert written_out == undone(partial(due_claim_orm, batch=batch, now=now), claimed)
    ids, _ = written_out
    assert ids == [r.pk for r in redemptions if r.pk != redemptions[1].pk]


# USAGE_INSERT, LOOKUPS_INSERT: the side effects of a batch of redemptions (and of reversals) set-based,
# against the one-at-a-time ORM path, on the same redemptions.


def side_effects_cases() -> list[Redemption]:
    """Redemptions at shops with 0 to 3 endpoints: one member several times at one shop (one
    link), a member already linked by their pass, one with a location and a purchase, and
    one whose side effects were applied before (nothing more is written for it)."""
    shops = [shop(endpoints) for endpoints in (0, 1, 2, 3)]
    with_location = shop(1, location="XTD")
    regular, linked, other = (JoinedMemberFactory.create() for _ in range(3))
    links_start(
        links=[LinkInput(linked.pk, shops[2].merchant.ref, shops[2].merchant.name)], how=LinkStart.PASS
    )
    redemptions = [
        shops[0].redeem(regular),
        shops[1].redeem(regular),
        shops[1].redeem(regular),
        shops[2].redeem(linked),
        shops[3].redeem(other),
        shops[3].redeem(regular),
        with_location.redeem(other, location_code="XTD", amount="42.5", currency="CNY"),
    ]
    redemption_side_effects_apply(redemption_id=redemptions[1].pk)
    return redemptions


def test_a_batch_of_side_effects_writes_what_one_redemption_at_a_time_writes():
    ids = [r.pk for r in side_effects_cases()]

    with executed() as texts:
        set_based = undone(lambda: redemptions_side_effects_apply(redemption_ids=ids), side_effect_rows)
    assert ran(USAGE_INSERT, texts)
    assert ran(LOOKUPS_INSERT, texts)
    one_by_one = undone(
        lambda: sum(redemption_side_effects_apply(redemption_id=pk) for pk in ids), side_effect_rows
    )

    assert set_based == one_by_one
    recorded, rows = set_based
    assert recorded == len(ids) - 1
    assert not rows["due"]
    # One a subscribed endpoint, the one applied before included.
    assert len(rows["deliveries"]) == 0 + 1 + 1 + 2 + 3 + 3 + 1


def test_a_batch_of_reversals_writes_what_one_at_a_time_writes():
    redemptions = side_effects_cases()
    redemptions_side_effects_apply(redemption_ids=[r.pk for r in redemptions])
    reversals = [
        RedemptionReversal.objects.create(redemption=r, reason=f"Refund {i}", actor="key:test")
        for i, r in enumerate(redemptions[2:])
    ]
    reversal_side_effects_apply(reversal_id=reversals[0].pk)  # applied before: nothing more
    ids = [r.pk for r in reversals]

    with executed() as texts:
        set_based = undone(lambda: reversals_side_effects_apply(reversal_ids=ids), side_effect_rows)
    assert ran(USAGE_INSERT, texts)
    one_by_one = undone(
        lambda: sum(reversal_side_effects_apply(reversal_id=pk) for pk in ids), side_effect_rows
    )

    assert set_based == one_by_one
    recorded, rows = set_based
    assert recorded == len(ids) - 1
    assert [kind for _, kind, *_ in rows["usage"]].count("reversal") == len(ids)


# ROLLUP_ADD: counts added to the dashboard's rollup rows in one statement, against an
# UPDATE by F() a row at a time.


@pytest.mark.parametrize(
    ("model", "counts"),
    [
        (PerkDay, ("redeemed", "reversed", "deposits_waived", "deposits_waived_amount")),
        (LocationDayTotal, ("redeemed", "reversed")),
    ],
)
def test_rollup_counts_are_added_as_the_orm_adds_them(model, counts):
    merchant = MerchantFactory.create()
    perk = PerkFactory.create(merchant=merchant)
    today = timezone.localdate()
    keys = {"merchant": merchant} | ({"perk": perk} if model is PerkDay else {})
    rows = [
        model.objects.create(**keys, day=today - timedelta(days=n), redeemed=n + 3, reversed=1)
        for n in range(3)
    ]
    untouched = model.objects.create(**keys, day=today - timedelta(days=9), redeemed=4)
    deltas = {
        (merchant.pk, rows[0].pk): (2, 0, 1, Decimal("120.5"))[: len(counts)],
        (merchant.pk, rows[2].pk): (1, 1, -1, Decimal("-0.25"))[: len(counts)],
        (merchant.pk, rows[1].pk): (0,) * len(counts),
    }

    def after(add):
        return undone(
            lambda: add(model=model, counts=counts, moves=deltas),
            lambda: list(model.objects.order_by("pk").values_list("pk", *counts)),
        )[1]

    with executed() as texts:
        set_based = after(rollup_add)
    assert ran(ROLLUP_ADD, texts)
    assert set_based == after(rollup_add_orm)
    assert {pk: row for pk, *row in set_based}[rows[0].pk][0] == 5
    assert (untouched.pk, 4, *(0,) * (len(counts) - 1)) in set_based
