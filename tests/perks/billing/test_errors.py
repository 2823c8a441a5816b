"""Billing's refusals answer with the partner API's statuses and codes; an unreachable
payment provider is the one 503, with Retry-After."""

import pytest

from perks.billing.errors import (
    DepositNotHeld,
    MerchantBillingPaused,
    PaymentFailed,
    PaymentProviderUnavailable,
)
from surfaces.api.exception_handler import domain_error_status, exception_handler


def test_an_unreachable_payment_provider_is_a_503_with_retry_after():
    response = exception_handler(PaymentProviderUnavailable(), {"view": None})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.data["error"]["type"] == "api_error"
    assert response.data["error"]["code"] == "payment_provider_unavailable"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (PaymentFailed, 422, "payment_failed"),
        (MerchantBillingPaused, 422, "merchant_billing_paused"),
        (DepositNotHeld, 409, "deposit_not_held"),
        (PaymentProviderUnavailable, 503, "payment_provider_unavailable"),
    ],
)
def test_each_refusal_has_the_contracts_status_and_code(error, status, code):
    assert (domain_error_status(error), error.code) == (status, code)
