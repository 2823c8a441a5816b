"""The one way into Stripe, through the official library.

A client is made for each call from the settings of that moment (the secret key, the API
base, the connected account of a Connect direct charge), so nothing global is configured
and a test may point Stripe elsewhere. `stripe_errors()` turns what Stripe answers into
the domain's refusals: an unreachable or failing Stripe is `payment_provider_unavailable`
(503, retry), a declined card `payment_failed` (422). With no STRIPE_SECRET_KEY, Stripe is
off: callers ask `stripe_enabled()` first and decide what that means for them.

Amounts meet Stripe in integer minor units of the currency (`minor_units`) and come back
as Decimal (`from_minor_units`).
"""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.conf import settings

from perks.billing.errors import PaymentFailed, PaymentProviderUnavailable
from perks.catalog.money import decimals, quantize

log = logging.getLogger(__name__)

# Short enough that a request waiting on Stripe fails over to a retryable 503 well before a
# proxy gives up on it; one network retry rides out a dropped connection.
TIMEOUT_SECONDS = 20
NETWORK_RETRIES = 1
STRIPE_API_BASE = "https://api.stripe.com"
STRIPE_JS_URL = "https://js.stripe.com/v3/"

# Stripe's own failures and refusals to serve: worth the same request again later.
_UNAVAILABLE = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


# One HTTP client for every call: it keeps a session (and its pooled connections) per thread.
_HTTP = stripe.RequestsClient(timeout=TIMEOUT_SECONDS)


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


@dataclass(frozen=True)
class StripeBrowser:
    """What a page needs to load Stripe.js and make a card form: where the script is, and
    the publishable key it is made with."""

    js_url: str
    publishable_key: str


def stripe_browser() -> StripeBrowser | None:
    """Stripe.js for the pages, or None when card forms cannot work (Stripe off, or no
    publishable key). The script comes from the API base the server talks to: Stripe's
    own next to Stripe's API, else the copy a stand-in serves beside its API (localstripe
    serves its shim at `<base>/js.stripe.com/v3/`), so the browser and the server always
    talk to the same Stripe."""
    if not stripe_enabled() or not settings.STRIPE_PUBLISHABLE_KEY:
        return None
    base = settings.STRIPE_API_BASE.rstrip("/")
    js_url = STRIPE_JS_URL if base == STRIPE_API_BASE else f"{base}/js.stripe.com/v3/"
    return StripeBrowser(js_url=js_url, publishable_key=settings.STRIPE_PUBLISHABLE_KEY)


def stripe_csp_sources() -> dict[str, list[str]]:
    """What a page with a card form adds to its Content-Security-Policy: for Stripe's own,
    the script and its frames from js.stripe.com, 3-D Secure frames from hooks.stripe.com
    and calls to api.stripe.com, as Stripe documents; for a stand-in, its one origin."""
    browser = stripe_browser()
    if browser is None:
        return {}
    if browser.js_url != STRIPE_JS_URL:
        parts = urlsplit(browser.js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}
    return {
        "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
        "connect-src": [STRIPE_API_BASE],
    }


def stripe_client(*, account: str = "") -> stripe.StripeClient:
    """A client on the platform's key, acting on the connected `account` when one is named."""
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_account=account or None,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=NETWORK_RETRIES,
        http_client=_HTTP,
    )


def request_options(*, idempotency_key: str | None = None) -> Any:
    """Per-request options: the idempotency key that makes a retried create return the
    first object instead of a second one."""
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


@contextmanager
def stripe_errors() -> Iterator[None]:
    try:
        yield
    except stripe.CardError as error:
        raise PaymentFailed(error.user_message or PaymentFailed.default_message) from error
    except _UNAVAILABLE as error:
        log.warning("Stripe is unavailable: %s: %s", type(error).__name__, error)
        raise PaymentProviderUnavailable() from error


def minor_units(amount: Decimal, currency: str) -> int:
    """`amount` as Stripe counts it: an integer of the currency's smallest unit."""
    return int(quantize(amount, currency).scaleb(decimals(currency)))


def from_minor_units(value: int | None, currency: str) -> Decimal:
    return quantize(Decimal(value or 0).scaleb(-decimals(currency)), currency)


def stripe_currency(currency: str) -> str:
    return currency.lower()


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object (or an id, or None) as plain JSON-ready data."""
    if obj is None or isinstance(obj, str):
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else {}


def object_id(obj: Any) -> str:
    """The id of an expandable field, whether Stripe sent the id or the whole object."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    return str(as_dict(obj).get("id") or "")
