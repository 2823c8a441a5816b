from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.points.services.earn import EXTERNAL_ID_MAX_LENGTH
from perks.merchants.permissions import Scope
from perks.merchants.services import PartnerEvent, partner_events_record
from surfaces.api.serializers import (
    AmountField,
    AwareDateTimeField,
    CurrencyField,
    InputSerializer,
    batch_field,
)
from surfaces.api.views.base import PartnerView, parsed, rendered

# The kinds of event a partner may report (docs/integration.md).
EVENT_TYPES = (
    "purchase",
    "payment_on_time",
    "payment_missed",
    "rental_returned_on_time",
    "rental_returned_late",
    "booking_no_show",
    "obligation_settled",
)


class PartnerEventSerializer(InputSerializer):
    id = serializers.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH, help_text="Your own id of the event, unique for your merchant."
    )
    member = serializers.CharField(max_length=64, help_text="The member's ref, mem_…")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    occurred_at = AwareDateTimeField()
    amount = AmountField(required=False, help_text="With currency; a purchase with an amount earns points.")
    currency = CurrencyField(required=False)


class EventBatchSerializer(InputSerializer):
    events = batch_field(PartnerEventSerializer())


class EventsAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events recorded now.")
    duplicates = serializers.IntegerField(help_text="Events whose id was recorded before: not counted twice.")


class EventsView(PartnerView):
    write_scope = Scope.EVENTS_WRITE

    @extend_schema(
        request=EventBatchSerializer,
        responses={202: EventsAcceptedSerializer},
        examples=[
            OpenApiExample(
                "A rental returned on time and a purchase",
                request_only=True,
                value={
                    "events": [
                        {
                            "id": "rental-88121-return",
                            "member": "mem_7d2k9q4x1m8v3b6n0r5t",
                            "type": "rental_returned_on_time",
                            "occurred_at": "2026-05-01T18:30:00+08:00",
                        },
                        {
                            "id": "receipt-2026-05-01-0042",
                            "member": "mem_7d2k9q4x1m8v3b6n0r5t",
                            "type": "purchase",
                            "occurred_at": "2026-05-01T18:35:00+08:00",
                            "amount": "420.00",
                            "currency": "CNY",
                        },
                    ]
                },
            ),
            OpenApiExample(
                "Accepted", response_only=True, status_codes=[202], value={"accepted": 2, "duplicates": 0}
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Report what members did (up to 1,000 events): their scores follow, and purchases
        earn points. Sending an event again is harmless: it counts as a duplicate."""
        events = [PartnerEvent(**event) for event in parsed(EventBatchSerializer, request)["events"]]
        recorded = partner_events_record(merchant=self.merchant, actor=self.api_key, events=events)
        body = {"accepted": recorded.accepted, "duplicates": recorded.duplicates}
        return Response(rendered(EventsAcceptedSerializer, body), status=status.HTTP_202_ACCEPTED)
