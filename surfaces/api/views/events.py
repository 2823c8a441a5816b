"""Members' events: a merchant reports what its linked members did, reads where each of
its events stands, and stands by one its member disputed (docs/integration.md)."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.points.services.earn import EXTERNAL_ID_MAX_LENGTH
from loyalty.scoring.errors import NotDisputed
from loyalty.scoring.models import DisputeStatus, EventStatus, ScoreEvent
from loyalty.scoring.selectors import event_of_merchant, event_status
from loyalty.scoring.services.disputes import EVIDENCE_MAX_LENGTH
from loyalty.scoring.services.holds import OBLIGATION_REF_MAX
from perks.merchants.permissions import Scope
from perks.merchants.services import PartnerEvent, partner_events_record
from perks.merchants.services.reports import MEMBER_NOT_LINKED, merchant_event_confirm
from surfaces.api.serializers import (
    AmountField,
    AwareDateTimeField,
    CurrencyField,
    InputSerializer,
    StrictCharField,
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
    id = StrictCharField(
        max_length=EXTERNAL_ID_MAX_LENGTH, help_text="Your own id of the event, unique for your merchant."
    )
    member = StrictCharField(max_length=64, help_text="The member's ref, mem_…")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    occurred_at = AwareDateTimeField()
    amount = AmountField(required=False, help_text="With currency; a purchase with an amount earns points.")
    currency = CurrencyField(required=False)
    obligation_ref = StrictCharField(
        max_length=OBLIGATION_REF_MAX,
        required=False,
        help_text=(
            "obligation_settled only: the obligation it settles, which lifts the hold you placed "
            "with it; without it, your holds on the member that wait for obligation_settled."
        ),
    )


class EventBatchSerializer(InputSerializer):
    events = batch_field(PartnerEventSerializer())


class EventRefusedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's position in `events`, from 0.")
    code = serializers.ChoiceField(
        choices=[MEMBER_NOT_LINKED],
        help_text="member_not_linked: the member has no active link with you, or the ref names no member.",
    )


class EventsAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(
        help_text="Events recorded now, including any past a cap (stored with status capped)."
    )
    duplicates = serializers.IntegerField(help_text="Events whose id was recorded before: not counted twice.")
    refused = EventRefusedSerializer(many=True, help_text="Events not recorded, and why.")


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
                "Accepted",
                response_only=True,
                status_codes=[202],
                value={"accepted": 2, "duplicates": 0, "refused": []},
            ),
            OpenApiExample(
                "One about a member not linked with you",
                response_only=True,
                status_codes=[202],
                value={"accepted": 1, "duplicates": 0, "refused": [{"index": 1, "code": MEMBER_NOT_LINKED}]},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Report what your linked members did (up to 1,000 events): their scores follow,
        and purchases earn points. Sending an event again is harmless: it counts as a
        duplicate. An event about a member not linked with you is refused and not stored.
        Your negative events past your caps are stored as capped and do not count."""
        events = [PartnerEvent(**event) for event in parsed(EventBatchSerializer, request)["events"]]
        recorded = partner_events_record(merchant=self.merchant, actor=self.api_key, events=events)
        body = {
            "accepted": recorded.accepted,
            "duplicates": recorded.duplicates,
            "refused": [{"index": refusal.index, "code": refusal.code} for refusal in recorded.refused],
        }
        return Response(rendered(EventsAcceptedSerializer, body), status=status.HTTP_202_ACCEPTED)


class EventDisputeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=DisputeStatus.choices,
        read_only=True,
        help_text=(
            "open (waiting for your confirmation), confirmed (the platform's operators decide), "
            "upheld (the event counts again), overturned (removed), lapsed (nobody resolved it in "
            "30 days: removed)."
        ),
    )
    reason = serializers.CharField(read_only=True, help_text="The member's words.")
    opened_at = serializers.DateTimeField(read_only=True)
    due_at = serializers.DateTimeField(
        read_only=True, help_text="Unresolved by then, it is decided for the member."
    )
    evidence = serializers.CharField(read_only=True, help_text="Yours, once you confirmed the event.")
    confirmed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    decided_at = serializers.DateTimeField(allow_null=True, read_only=True)
    decision_note = serializers.CharField(read_only=True, help_text="The operator's reasons, once decided.")


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="external_id", read_only=True, help_text="Your own id of the event.")
    member = serializers.CharField(source="member.ref", read_only=True)
    type = serializers.CharField(source="kind_id", read_only=True)
    occurred_at = serializers.DateTimeField(read_only=True)
    status = serializers.SerializerMethodField(
        help_text=(
            "counted; capped (past one of your caps: it does not count); disputed (the member "
            "disputed it: it does not count while you answer); confirmed (you stand by it: the "
            "platform's operators decide); removed (after a dispute)."
        )
    )
    dispute = serializers.SerializerMethodField(help_text="The member's dispute, if they disputed it.")

    @extend_schema_field({"type": "string", "enum": EventStatus.values})
    def get_status(self, event: ScoreEvent) -> str:
        return event_status(event).value

    @extend_schema_field(EventDisputeSerializer(allow_null=True))
    def get_dispute(self, event: ScoreEvent) -> dict[str, Any] | None:
        dispute = getattr(event, "dispute", None)
        return rendered(EventDisputeSerializer, dispute) if dispute is not None else None


_DISPUTE_EXAMPLE = {
    "status": "open",
    "reason": "I paid this invoice on time; my bank statement shows the transfer on 28 April.",
    "opened_at": "2026-05-03T09:00:00+08:00",
    "due_at": "2026-06-02T09:00:00+08:00",
    "evidence": "",
    "confirmed_at": None,
    "decided_at": None,
    "decision_note": "",
}
_EVIDENCE_EXAMPLE = "Direct debit DD-88213 for invoice INV-5521 returned unpaid on 1 May."
_EVENT_EXAMPLE = {
    "id": "INV-5521-missed",
    "member": "mem_7d2k9q4x1m8v3b6n0r5t",
    "type": "payment_missed",
    "occurred_at": "2026-05-01T18:30:00+08:00",
    "status": "disputed",
    "dispute": _DISPUTE_EXAMPLE,
}


class EventView(PartnerView):
    @extend_schema(
        responses=EventSerializer, examples=[OpenApiExample("A disputed event", value=_EVENT_EXAMPLE)]
    )
    def get(self, request: Request, event_id: str) -> Response:
        """One of your events, by your own id: whether it counts, and its dispute."""
        return Response(
            rendered(EventSerializer, event_of_merchant(merchant_ref=self.merchant.ref, external_id=event_id))
        )


class ConfirmationInputSerializer(InputSerializer):
    evidence = StrictCharField(
        max_length=EVIDENCE_MAX_LENGTH,
        help_text="What shows the event happened as you reported it: the platform's operators read it.",
    )


class EventConfirmationView(PartnerView):
    write_scope = Scope.EVENTS_WRITE
    errors = {"post": (NotDisputed,)}

    @extend_schema(
        request=ConfirmationInputSerializer,
        responses={200: EventSerializer},
        examples=[
            OpenApiExample(
                "The bank's record",
                request_only=True,
                value={"evidence": _EVIDENCE_EXAMPLE},
            ),
            OpenApiExample(
                "Confirmed",
                response_only=True,
                status_codes=[200],
                value={
                    **_EVENT_EXAMPLE,
                    "status": "confirmed",
                    "dispute": {
                        **_DISPUTE_EXAMPLE,
                        "status": "confirmed",
                        "evidence": _EVIDENCE_EXAMPLE,
                        "confirmed_at": "2026-05-04T10:00:00+08:00",
                    },
                },
            ),
        ],
    )
    def post(self, request: Request, event_id: str) -> Response:
        """Stand by one of your events its member disputed, with your evidence: the
        platform's operators decide, and the event does not count meanwhile. 409
        `not_disputed` when it has no open dispute."""
        data = parsed(ConfirmationInputSerializer, request)
        merchant_event_confirm(
            merchant=self.merchant, actor=self.api_key, event_id=event_id, evidence=data["evidence"]
        )
        return Response(
            rendered(EventSerializer, event_of_merchant(merchant_ref=self.merchant.ref, external_id=event_id))
        )
