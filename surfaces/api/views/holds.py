"""Holds: a merchant suspends its own perks for a member linked to it while something the
member owes it is unresolved. The member sees the hold, why and how to lift it, and may
appeal it; the merchant reads and lifts its holds here, even after the member ended the link."""

from datetime import datetime
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.members.errors import MemberNotFound
from loyalty.scoring.errors import HoldExists, HoldNotActive
from loyalty.scoring.models import AppealStatus, Hold, HoldCategory, HoldEnd, HoldReason
from loyalty.scoring.selectors import (
    HOLD_STATES,
    hold_appeal_latest,
    hold_of_merchant,
    hold_state,
    holds_of_merchant,
)
from loyalty.scoring.services.holds import HOLD_TEXT_MAX, OBLIGATION_REF_MAX
from perks.merchants.permissions import Scope
from perks.merchants.services.holds import (
    HOLD_PERK_TYPES,
    MERCHANT_HOLD_REASONS,
    merchant_hold_lift,
    merchant_hold_place,
)
from surfaces.api.pagination import PAGE_QUERY_PARAMS
from surfaces.api.schema import list_schema
from surfaces.api.serializers import AwareDateTimeField, InputSerializer, StrictCharField
from surfaces.api.views.base import PartnerView, parsed, rendered

_MEMBER = "mem_7d2k9q4x1m8v3b6n0r5t"
_HOLD_EXAMPLE = {
    "id": "hld_4f6h8k0m2p4r6t8w0y2a",
    "member": _MEMBER,
    "reason_code": "unreturned_rental",
    "status": "active",
    "expires_at": "2026-06-30T00:00:00+08:00",
    "appeal": None,
    "perk_type": "deposit_waiver",
    "detail": "Rental RA-88121 was due back on 2026-04-28 and has not been returned.",
    "evidence": "Rental agreement RA-88121, signed 2026-04-21.",
    "lift_on": "obligation_settled",
    "obligation_ref": "RA-88121",
    "placed_at": "2026-05-01T09:00:00+08:00",
    "ended_at": None,
}


class HoldInputSerializer(InputSerializer):
    member = StrictCharField(
        max_length=64, help_text="The member's ref, mem_…: a member linked to you (404 otherwise)."
    )
    reason_code = serializers.ChoiceField(choices=MERCHANT_HOLD_REASONS)
    detail = StrictCharField(
        max_length=HOLD_TEXT_MAX, help_text="What the matter is, in your words: the member reads it."
    )
    evidence = StrictCharField(
        max_length=HOLD_TEXT_MAX,
        required=False,
        allow_blank=True,
        help_text="What backs it (a rental agreement, an invoice): the member reads it too.",
    )
    expires_at = AwareDateTimeField(
        help_text="When the hold ends at the latest: in the future, at most 180 days ahead."
    )
    lift_on = serializers.ChoiceField(
        choices=[HoldEnd.OBLIGATION_SETTLED.value],
        required=False,
        allow_null=True,
        help_text=(
            "obligation_settled: an obligation_settled event of yours about the member that names "
            "no obligation_ref lifts it."
        ),
    )
    obligation_ref = StrictCharField(
        max_length=OBLIGATION_REF_MAX,
        required=False,
        help_text=(
            "Your reference of what is owed (an invoice, a rental): an obligation_settled event "
            "naming it lifts the hold. One active hold per obligation."
        ),
    )
    perk_type = serializers.ChoiceField(
        choices=HOLD_PERK_TYPES,
        required=False,
        allow_null=True,
        help_text="Hold only your perks of this type; without it, all your perks.",
    )


class HoldAppealSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=AppealStatus.choices,
        read_only=True,
        help_text="open (the platform's operators decide), upheld (the hold is overturned), "
        "rejected (it stays), closed (the hold ended first).",
    )
    filed_at = serializers.DateTimeField(read_only=True)
    decided_at = serializers.DateTimeField(allow_null=True, read_only=True)


class HoldSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    member = serializers.CharField(source="member.ref", read_only=True)
    reason_code = serializers.ChoiceField(choices=HoldReason.choices, read_only=True)
    status = serializers.SerializerMethodField(
        help_text="active, lifted (by you or a settlement), expired, or overturned (lifted on appeal)."
    )
    expires_at = serializers.DateTimeField(read_only=True)
    appeal = serializers.SerializerMethodField(help_text="The member's latest appeal, if they appealed.")
    perk_type = serializers.SerializerMethodField(help_text="The perks held; null: all your perks.")
    detail = serializers.CharField(read_only=True)
    evidence = serializers.CharField(read_only=True)
    lift_on = serializers.SerializerMethodField()
    obligation_ref = serializers.SerializerMethodField()
    placed_at = serializers.DateTimeField(read_only=True)
    ended_at = serializers.DateTimeField(source="lifted_at", allow_null=True, read_only=True)

    @extend_schema_field({"type": "string", "enum": list(HOLD_STATES)})
    def get_status(self, hold: Hold) -> str:
        return hold_state(hold)

    @extend_schema_field(HoldAppealSerializer(allow_null=True))
    def get_appeal(self, hold: Hold) -> dict[str, Any] | None:
        appeal = hold_appeal_latest(hold)
        return rendered(HoldAppealSerializer, appeal) if appeal is not None else None

    @extend_schema_field({"type": "string", "enum": list(HOLD_PERK_TYPES), "nullable": True})
    def get_perk_type(self, hold: Hold) -> str | None:
        return None if hold.category == HoldCategory.ALL else hold.category

    @extend_schema_field({"type": "string", "enum": [HoldEnd.OBLIGATION_SETTLED.value], "nullable": True})
    def get_lift_on(self, hold: Hold) -> str | None:
        return hold.lift_on or None

    def get_obligation_ref(self, hold: Hold) -> str | None:
        return hold.obligation_ref or None


class HoldLiftInputSerializer(InputSerializer):
    note = StrictCharField(
        max_length=500, required=False, allow_blank=True, help_text="Why, for your audit trail."
    )


class HoldsView(PartnerView):
    write_scope = Scope.HOLDS_WRITE
    query_params = PAGE_QUERY_PARAMS
    errors = {"post": (MemberNotFound, HoldExists)}

    @list_schema(HoldSerializer)
    def get(self, request: Request) -> Response:
        """Your holds, newest first, including those on members who have since ended their link."""
        holds = holds_of_merchant(merchant_ref=self.merchant.ref)
        return self.page_response(holds, HoldSerializer, time_field="placed_at")

    @extend_schema(
        request=HoldInputSerializer,
        responses={201: HoldSerializer},
        examples=[
            OpenApiExample(
                "A car not returned",
                request_only=True,
                value={
                    "member": _MEMBER,
                    "reason_code": "unreturned_rental",
                    "detail": _HOLD_EXAMPLE["detail"],
                    "evidence": _HOLD_EXAMPLE["evidence"],
                    "expires_at": "2026-06-30T00:00:00+08:00",
                    "lift_on": "obligation_settled",
                    "obligation_ref": "RA-88121",
                    "perk_type": "deposit_waiver",
                },
            ),
            OpenApiExample("Placed", response_only=True, status_codes=[201], value=_HOLD_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        """Hold your perks (of one type, or all) from a member linked to you while something
        they owe you is unresolved: they refuse the member with `member_on_hold` until you
        lift it, a settlement lifts it, an appeal overturns it, or it expires. The member is
        told at once why, how to lift it, and how to appeal."""
        data = parsed(HoldInputSerializer, request)
        expires_at: datetime = data["expires_at"]
        hold = merchant_hold_place(
            merchant=self.merchant,
            actor=self.api_key,
            member_ref=data["member"],
            reason_code=data["reason_code"],
            detail=data["detail"],
            expires_at=expires_at,
            evidence=data.get("evidence", ""),
            lift_on=data.get("lift_on") or "",
            obligation_ref=data.get("obligation_ref", ""),
            perk_type=data.get("perk_type"),
        )
        return Response(rendered(HoldSerializer, hold), status=status.HTTP_201_CREATED)


class HoldView(PartnerView):
    @extend_schema(responses=HoldSerializer, examples=[OpenApiExample("A hold", value=_HOLD_EXAMPLE)])
    def get(self, request: Request, hold_id: str) -> Response:
        """One of your holds."""
        hold = hold_of_merchant(merchant_ref=self.merchant.ref, ref=hold_id)
        return Response(rendered(HoldSerializer, hold))


class HoldLiftView(PartnerView):
    write_scope = Scope.HOLDS_WRITE
    errors = {"post": (HoldNotActive,)}

    @extend_schema(
        request=HoldLiftInputSerializer,
        responses={200: HoldSerializer},
        examples=[
            OpenApiExample("Settled at the desk", request_only=True, value={"note": "Car returned today."}),
            OpenApiExample(
                "Lifted",
                response_only=True,
                status_codes=[200],
                value={**_HOLD_EXAMPLE, "status": "lifted", "ended_at": "2026-05-03T10:00:00+08:00"},
            ),
        ],
    )
    def post(self, request: Request, hold_id: str) -> Response:
        """Lift one of your holds now: your perks serve the member again. 409
        `hold_not_active` when it has already ended."""
        data = parsed(HoldLiftInputSerializer, request)
        hold = hold_of_merchant(merchant_ref=self.merchant.ref, ref=hold_id)
        note = data.get("note", "")
        lifted = merchant_hold_lift(merchant=self.merchant, actor=self.api_key, hold=hold, note=note)
        return Response(rendered(HoldSerializer, lifted))
