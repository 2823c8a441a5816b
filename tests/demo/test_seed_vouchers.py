"""The demo's vouchers: every state, made through the services."""

import pytest
from django.core.management import call_command

from loyalty.points.models import PointsTransaction, TransactionKind
from perks.vouchers.models import (
    Redemption,
    Reservation,
    ReservationStatus,
    UsageRecord,
    Voucher,
    VoucherSource,
    VoucherStatus,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(tmp_path):
    call_command("seed_demo", "--output", str(tmp_path / "demo.json"))


def test_the_demo_has_vouchers_in_every_state(seeded):
    assert set(Voucher.objects.values_list("status", flat=True)) == set(VoucherStatus.values)
    partly_used = Voucher.objects.get(perk__type="access_pass", uses_allowed=4)
    assert (partly_used.status, partly_used.uses_count) == (VoucherStatus.ISSUED, 2)
    reserved = Reservation.objects.get(status=ReservationStatus.ACTIVE)
    assert reserved.voucher.uses_reserved == 1
    assert Redemption.objects.count() == UsageRecord.objects.count() == 4


def test_the_demo_coffees_are_claimed_with_points(seeded):
    claims = Voucher.objects.filter(source=VoucherSource.CLAIM, perk__merchant__category="coffee")

    assert claims.exists()
    assert {voucher.points_spent for voucher in claims} == {120}
    spends = PointsTransaction.objects.filter(
        kind=TransactionKind.SPEND, pk__in=claims.values("points_transaction_id")
    )
    assert spends.count() == claims.count()
