"""Refusals of billing and deposits, with the partner API's codes (docs/integration.md)."""

from loyalty.core.errors import Conflict, Invalid, NotFound, Refused, Unavailable


class PaymentProviderUnavailable(Unavailable):
    """Stripe could not be reached, or answered that it cannot serve now. Raised before
    anything of ours is written, so the caller retries the same request."""

    code = "payment_provider_unavailable"
    default_message = "The payment provider cannot be reached right now; nothing was changed. Retry shortly."


class PaymentFailed(Refused):
    code = "payment_failed"
    default_message = "The payment could not be made."


class DepositNotHeld(Conflict):
    code = "deposit_not_held"
    default_message = "This deposit is not held: only a held deposit can be released or captured."


class DepositNotFound(NotFound):
    default_message = "No such deposit."


class CardNotFound(NotFound):
    default_message = "No such saved card."


class MerchantBillingPaused(Refused):
    """For the issuance refusal while an invoice stays unpaid past its grace period."""

    code = "merchant_billing_paused"
    default_message = "New vouchers are paused until this merchant's overdue invoice is paid."


class BillingNotSetUp(Conflict):
    code = "billing_not_set_up"
    default_message = "This merchant has no billing profile yet."


class BillingNotConfigured(Refused):
    code = "billing_not_configured"
    default_message = "Billing is not available: no payment provider is configured on this platform."


class StripeSignatureInvalid(Invalid):
    code = "invalid_signature"
    default_message = "The Stripe-Signature header does not verify this body."
