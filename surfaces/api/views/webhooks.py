from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from perks.merchants.permissions import Scope
from perks.merchants.services import WEBHOOK_EVENT_TYPES, webhook_endpoint_create
from surfaces.api.serializers import InputSerializer, StrictCharField
from surfaces.api.views.base import PartnerView, parsed, rendered


class WebhookEndpointCreateSerializer(InputSerializer):
    url = StrictCharField(max_length=500, help_text="https URL that will receive the events.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES),
        min_length=1,
        max_length=len(WEBHOOK_EVENT_TYPES),
        help_text="The event types to send there.",
    )


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.CharField(source="endpoint.ref", read_only=True)
    url = serializers.CharField(source="endpoint.url", read_only=True)
    events = serializers.ListField(
        source="endpoint.event_types",
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES),
        read_only=True,
    )
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text=(
            "Verifies the Perkline-Signature of each delivery. Shown in this response only: keep it. "
            "A replay of the request (same Idempotency-Key) answers null here."
        ),
    )
    created_at = serializers.DateTimeField(source="endpoint.created_at", read_only=True)


class WebhookEndpointsView(PartnerView):
    write_scope = Scope.WEBHOOKS_WRITE
    secret_fields = ("secret",)

    @extend_schema(
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointSerializer},
        examples=[
            OpenApiExample(
                "Redemptions to the POS backend",
                request_only=True,
                value={"url": "https://pos.example.com/perkline/webhooks", "events": ["voucher.redeemed"]},
            ),
            OpenApiExample(
                "Created",
                response_only=True,
                status_codes=[201],
                value={
                    "id": "whe_3n5p7r9t1w3y5a7c9e1g",
                    "url": "https://pos.example.com/perkline/webhooks",
                    "events": ["voucher.redeemed"],
                    "secret": "whsec_kq3V0w9yXb2Jf8sLrT5uNc1mEa6Hd4Gz7Po0iQyWx",  # nosec B105  # a made-up example for the API docs
                    "created_at": "2026-05-01T09:00:00+08:00",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Register a URL to receive webhook events, signed with the secret returned here once."""
        data = parsed(WebhookEndpointCreateSerializer, request)
        created = webhook_endpoint_create(
            merchant=self.merchant, actor=self.api_key, url=data["url"], event_types=data["events"]
        )
        return Response(rendered(WebhookEndpointSerializer, created), status=status.HTTP_201_CREATED)
