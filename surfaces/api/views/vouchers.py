"""Vouchers at the counter: issue, look up, validate, reserve and release."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import LookupPurpose
from perks.billing.errors import MerchantBillingPaused
from perks.catalog.errors import (
    InventoryExhausted,
    LimitReached,
    MemberNotEligible,
    MemberOnHold,
    PerkInactive,
    PerkNotFound,
)
from perks.catalog.selectors import perk_by_ref
from perks.merchants.permissions import Scope
from perks.vouchers.errors import (
    ReservationNotActive,
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotFound,
    VoucherNotYetValid,
    VoucherReserved,
    VoucherRevoked,
)
from perks.vouchers.models import Voucher, VoucherStatus
from perks.vouchers.selectors import reservation_by_ref, voucher_by_code, voucher_member_ref
from perks.vouchers.services import reservation_create, reservation_release, voucher_issue, voucher_validate
from perks.vouchers.services.redemption import TTL_SECONDS_MAX, TTL_SECONDS_MIN
from surfaces.api.members import MemberInput
from surfaces.api.serializers import (
    AmountField,
    BenefitField,
    CurrencyField,
    InputSerializer,
    StrictCharField,
    VoucherCodeField,
)
from surfaces.api.views.base import PartnerView, parsed, rendered

ELIGIBILITY_ERRORS = (PerkInactive, MemberNotEligible, MemberOnHold)
# What a voucher's own state and uses may refuse, then the member's eligibility.
USE_ERRORS = (
    VoucherRevoked,
    VoucherExpired,
    VoucherNotYetValid,
    VoucherAlreadyRedeemed,
    VoucherReserved,
    *ELIGIBILITY_ERRORS,
)
CODE_HELP = "The voucher's code, as printed or scanned: case, hyphens and spaces do not matter."
_CODE = "7K3M-9QXD-2RT4-8"
_VOUCHER_EXAMPLE = {
    "code": _CODE,
    "perk": "prk_0a2c4e6g8j0m2p4r6t8w",
    "member": "mem_7d2k9q4x1m8v3b6n0r5t",
    "status": "issued",
    "uses_allowed": 1,
    "uses_remaining": 1,
    "issued_at": "2026-05-01T09:00:00+08:00",
    "expires_at": "2026-05-31T09:00:00+08:00",
}
DISCOUNT_BENEFIT_EXAMPLE = {
    "type": "discount",
    "currency": "CNY",
    "discount_amount": "4.20",
    "percent": "10",
}


class VoucherSerializer(serializers.Serializer):
    code = VoucherCodeField(read_only=True)
    perk = serializers.CharField(source="perk.ref", read_only=True)
    member = serializers.SerializerMethodField(
        help_text=(
            "The member's ref; null while the member has no link with you (a campaign or a tier "
            "reached gave them the voucher): redeeming it links them."
        )
    )
    status = serializers.ChoiceField(choices=VoucherStatus.choices, read_only=True)
    uses_allowed = serializers.IntegerField(read_only=True)
    uses_remaining = serializers.IntegerField(read_only=True)
    issued_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field({"type": "string", "nullable": True, "example": "mem_7d2k9q4x1m8v3b6n0r5t"})
    def get_member(self, voucher: Voucher) -> str | None:
        return voucher_member_ref(voucher=voucher)


class VoucherIssueSerializer(MemberInput):
    perk = StrictCharField(max_length=64, help_text="One of your perks, prk_…")


class VouchersView(PartnerView):
    write_scope = Scope.VOUCHERS_WRITE
    errors = {
        "post": (
            PerkNotFound,
            MemberNotFound,
            *ELIGIBILITY_ERRORS,
            InventoryExhausted,
            LimitReached,
            MerchantBillingPaused,
        )
    }

    @extend_schema(
        request=VoucherIssueSerializer,
        responses={201: VoucherSerializer},
        examples=[
            OpenApiExample(
                "A gift to a member",
                request_only=True,
                value={"perk": "prk_0a2c4e6g8j0m2p4r6t8w", "member": "mem_7d2k9q4x1m8v3b6n0r5t"},
            ),
            OpenApiExample("Issued", response_only=True, status_codes=[201], value=_VOUCHER_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        """Give a member a voucher of one of your perks, under the perk's rules. It is your
        gift: it never spends the member's points. A member named by ref must have a link with
        you (404 otherwise); showing their pass makes one."""
        data = parsed(VoucherIssueSerializer, request)
        perk = perk_by_ref(merchant=self.merchant, ref=data["perk"])
        member = self.member_from(data, purpose=LookupPurpose.VOUCHER, service_records_success=True)
        voucher = voucher_issue(perk=perk, member=member, actor=self.api_key)
        return Response(rendered(VoucherSerializer, voucher), status=status.HTTP_201_CREATED)


class VoucherView(PartnerView):
    @extend_schema(
        responses=VoucherSerializer, examples=[OpenApiExample("A voucher", value=_VOUCHER_EXAMPLE)]
    )
    def get(self, request: Request, code: str) -> Response:
        """One of your vouchers, by its code written any way (case, hyphens); `member` is null
        while its member has no link with you."""
        voucher = voucher_by_code(merchant=self.merchant, code=code)
        self.member_looked_up(voucher.member, purpose=LookupPurpose.VOUCHER_READ)
        return Response(rendered(VoucherSerializer, voucher))


class ValidationInputSerializer(InputSerializer):
    code = StrictCharField(max_length=64, help_text=CODE_HELP)
    location = StrictCharField(max_length=64, required=False, help_text="Your location's code.")
    amount = AmountField(required=False, help_text="The purchase, to compute the benefit for it.")
    currency = CurrencyField(required=False)


class ValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField(read_only=True)
    reason = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="Why not: one of the 409/422 codes of POST /redemptions, or not_found.",
    )
    voucher = VoucherSerializer(allow_null=True, read_only=True)
    benefit = BenefitField(
        allow_null=True, read_only=True, help_text="What it would give; null when not valid."
    )


class ValidationsView(PartnerView):
    write_scope = None  # a question: it changes nothing, so any key may ask

    @extend_schema(
        request=ValidationInputSerializer,
        responses={200: ValidationSerializer},
        examples=[
            OpenApiExample(
                "Before charging 42.00 CNY",
                request_only=True,
                value={"code": _CODE, "amount": "42.00", "currency": "CNY"},
            ),
            OpenApiExample(
                "Valid",
                response_only=True,
                status_codes=[200],
                value={
                    "valid": True,
                    "reason": None,
                    "voucher": _VOUCHER_EXAMPLE,
                    "benefit": DISCOUNT_BENEFIT_EXAMPLE,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Whether a code could be redeemed here now, and what it would give. Changes nothing:
        an unusable code is a 200 with `valid: false` and the `reason` a redemption would get."""
        data = parsed(ValidationInputSerializer, request)
        validation = voucher_validate(
            merchant=self.merchant,
            code=data["code"],
            location_code=data.get("location"),
            amount=data.get("amount"),
            currency=data.get("currency"),
        )
        return Response(rendered(ValidationSerializer, validation))


class ReservationInputSerializer(InputSerializer):
    code = StrictCharField(max_length=64, help_text=CODE_HELP)
    ttl_seconds = serializers.IntegerField(
        min_value=TTL_SECONDS_MIN,
        max_value=TTL_SECONDS_MAX,
        required=False,
        help_text="How long the use is held, in seconds (default 900).",
    )


class ReservationSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    code = VoucherCodeField(source="voucher.code", read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


class ReservationsView(PartnerView):
    write_scope = Scope.REDEMPTIONS_WRITE
    errors = {"post": (VoucherNotFound, *USE_ERRORS)}

    @extend_schema(
        request=ReservationInputSerializer,
        responses={201: ReservationSerializer},
        examples=[
            OpenApiExample(
                "Hold a use for 10 minutes", request_only=True, value={"code": _CODE, "ttl_seconds": 600}
            ),
            OpenApiExample(
                "Held",
                response_only=True,
                status_codes=[201],
                value={
                    "id": "rsv_5q7s9v1x3z5b7d9f1h3k",
                    "code": _CODE,
                    "expires_at": "2026-05-01T09:10:00+08:00",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Hold one use of a voucher for a checkout in progress: others trying to redeem or
        reserve that use get 409 `voucher_reserved` until it is redeemed, released or expires."""
        data: dict[str, Any] = parsed(ReservationInputSerializer, request)
        reservation = reservation_create(merchant=self.merchant, actor=self.api_key, **data)
        return Response(rendered(ReservationSerializer, reservation), status=status.HTTP_201_CREATED)


class ReservationView(PartnerView):
    write_scope = Scope.REDEMPTIONS_WRITE
    errors = {"delete": (ReservationNotActive,)}

    @extend_schema(responses={204: None})
    def delete(self, request: Request, reservation_id: str) -> Response:
        """Release a reservation early: its use is free again."""
        reservation = reservation_by_ref(merchant=self.merchant, ref=reservation_id)
        reservation_release(merchant=self.merchant, actor=self.api_key, reservation=reservation)
        return Response(status=status.HTTP_204_NO_CONTENT)
