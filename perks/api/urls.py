"""The partner API, /api/v1/: paths exactly as partner-api.md writes them (no trailing slash)."""

from django.urls import URLPattern, path, register_converter

from perks.api.pagination import REF_PATTERN
from perks.api.views.benefits import BenefitsView
from perks.api.views.events import EventsView
from perks.api.views.merchant import MerchantView
from perks.api.views.perks import PerksView, PerkView
from perks.api.views.webhooks import WebhookEndpointsView


class RefConverter:
    """An object's public id (`prk_…`); anything else cannot name one and is a 404 unqueried."""

    regex = REF_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RefConverter, "ref")

urlpatterns: list[URLPattern] = [
    path("merchant", MerchantView.as_view(), name="api-merchant"),
    path("perks", PerksView.as_view(), name="api-perks"),
    path("perks/<ref:perk_id>", PerkView.as_view(), name="api-perk"),
    path("webhook-endpoints", WebhookEndpointsView.as_view(), name="api-webhook-endpoints"),
    path("events", EventsView.as_view(), name="api-events"),
    path("benefits", BenefitsView.as_view(), name="api-benefits"),
]
