"""The partner API, /api/v1/: paths exactly as the contract writes them, with no trailing
slash (docs/integration.md)."""

from django.urls import URLPattern, path, register_converter

from surfaces.api.pagination import REF_PATTERN
from surfaces.api.views.benefits import BenefitsView
from surfaces.api.views.campaigns import CampaignsView, CampaignView
from surfaces.api.views.deposits import DepositCaptureView, DepositReleaseView, DepositsView, DepositView
from surfaces.api.views.events import EventConfirmationView, EventsView, EventView
from surfaces.api.views.holds import HoldLiftView, HoldsView, HoldView
from surfaces.api.views.merchant import MerchantView
from surfaces.api.views.perks import PerksView, PerkView
from surfaces.api.views.redemptions import (
    RedemptionBatchesView,
    RedemptionBatchView,
    RedemptionReversalView,
    RedemptionsView,
    RedemptionView,
)
from surfaces.api.views.vouchers import (
    ReservationsView,
    ReservationView,
    ValidationsView,
    VouchersView,
    VoucherView,
)
from surfaces.api.views.webhooks import WebhookEndpointsView


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
    path("events/<str:event_id>", EventView.as_view(), name="api-event"),
    path(
        "events/<str:event_id>/confirmation", EventConfirmationView.as_view(), name="api-event-confirmation"
    ),
    path("benefits", BenefitsView.as_view(), name="api-benefits"),
    path("vouchers", VouchersView.as_view(), name="api-vouchers"),
    path("vouchers/<str:code>", VoucherView.as_view(), name="api-voucher"),
    path("validations", ValidationsView.as_view(), name="api-validations"),
    path("reservations", ReservationsView.as_view(), name="api-reservations"),
    path("reservations/<ref:reservation_id>", ReservationView.as_view(), name="api-reservation"),
    path("campaigns", CampaignsView.as_view(), name="api-campaigns"),
    path("campaigns/<ref:campaign_id>", CampaignView.as_view(), name="api-campaign"),
    path("redemptions", RedemptionsView.as_view(), name="api-redemptions"),
    path("redemptions/<ref:redemption_id>", RedemptionView.as_view(), name="api-redemption"),
    path(
        "redemptions/<ref:redemption_id>/reversal",
        RedemptionReversalView.as_view(),
        name="api-redemption-reversal",
    ),
    path("redemption-batches", RedemptionBatchesView.as_view(), name="api-redemption-batches"),
    path("redemption-batches/<ref:batch_id>", RedemptionBatchView.as_view(), name="api-redemption-batch"),
    path("holds", HoldsView.as_view(), name="api-holds"),
    path("holds/<ref:hold_id>", HoldView.as_view(), name="api-hold"),
    path("holds/<ref:hold_id>/lift", HoldLiftView.as_view(), name="api-hold-lift"),
    path("deposits", DepositsView.as_view(), name="api-deposits"),
    path("deposits/<ref:deposit_id>", DepositView.as_view(), name="api-deposit"),
    path("deposits/<ref:deposit_id>/release", DepositReleaseView.as_view(), name="api-deposit-release"),
    path("deposits/<ref:deposit_id>/capture", DepositCaptureView.as_view(), name="api-deposit-capture"),
]
