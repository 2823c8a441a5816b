"""Reading deposits never fails for Stripe's sake: pending ones are re-checked with Stripe,
and with Stripe unreachable they are answered as last known, Stripe asked only once."""

from unittest import mock

import pytest

from perks.billing.models import DepositStatus
from perks.billing.services import deposit_create, deposits_refresh
from perks.billing.services import deposits as deposits_module
from tests.support.stripe import free_port

pytestmark = pytest.mark.django_db


def _asked(merchant, key, member, count):
    return [
        deposit_create(merchant=merchant, actor=key, member=member, amount="10.00", currency="CNY")
        for _ in range(count)
    ]


def test_pending_deposits_are_re_checked_and_a_completed_one_is_found_held(
    stripe_on, profile, merchant, key, member
):
    first, second = _asked(merchant, key, member, 2)
    stripe_on.card_setup_confirm(second.client_secret)

    statuses = [deposit.status for deposit in deposits_refresh(deposits=[first, second])]

    assert statuses == [DepositStatus.REQUIRES_PAYMENT_METHOD, DepositStatus.HELD]


def test_with_stripe_unreachable_they_are_as_last_known_and_stripe_is_asked_once(
    stripe_on, profile, merchant, key, member, settings
):
    asked = _asked(merchant, key, member, 3)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    with mock.patch.object(deposits_module, "_sync", wraps=deposits_module._sync) as sync:
        found = deposits_refresh(deposits=asked)

    assert [deposit.pk for deposit in found] == [deposit.pk for deposit in asked]
    assert {deposit.status for deposit in found} == {DepositStatus.REQUIRES_PAYMENT_METHOD}
    assert sync.call_count == 1
