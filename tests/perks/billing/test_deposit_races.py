"""Invariant 1 through deposits: twenty deposits at once for a member with one single-use
waiver are waived once, and the others go on to ask for a card, on PostgreSQL's row locks."""

import pytest

from perks.billing.models import Deposit, DepositStatus, MemberStripeCustomer
from perks.billing.services import deposit_create
from perks.vouchers.models import Redemption, Voucher
from tests.support.races import errors_of, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def test_twenty_deposits_at_once_use_a_single_use_waiver_exactly_once(profile, merchant, key, member, waiver):
    outcomes = race(
        lambda _: deposit_create(
            merchant=merchant, actor=key, member=member, amount="300.00", currency="CNY"
        ),
        threads=THREADS,
    )

    assert errors_of(outcomes) == []
    statuses = sorted(outcome.value.status for outcome in outcomes)
    assert statuses.count(DepositStatus.WAIVED) == 1
    assert statuses.count(DepositStatus.REQUIRES_PAYMENT_METHOD) == THREADS - 1
    assert Deposit.objects.filter(status=DepositStatus.WAIVED, waived_by=waiver).count() == 1
    assert Redemption.objects.filter(voucher=waiver).count() == 1
    assert Voucher.objects.get(pk=waiver.pk).uses_count == 1
    assert MemberStripeCustomer.objects.filter(member=member).count() == 1


def test_with_stripe_off_the_others_are_refused_and_the_waiver_still_used_once(merchant, key, member, waiver):
    outcomes = race(
        lambda _: deposit_create(
            merchant=merchant, actor=key, member=member, amount="300.00", currency="CNY"
        ),
        threads=THREADS,
    )

    assert sum(outcome.ok for outcome in outcomes) == 1
    assert {getattr(error, "code", None) for error in errors_of(outcomes)} == {"payment_failed"}
    assert Deposit.objects.get().waived_by == waiver
    assert Voucher.objects.get(pk=waiver.pk).uses_count == 1
