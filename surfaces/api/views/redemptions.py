"""Redemptions: a use of a voucher, its reversal, and offline batches of them."""

from datetime import datetime

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from perks.merchants.permissions import Scope
from perks.vouchers.errors import (
    AlreadyReversed,
    ReservationNotActive,
    ReservationNotFound,
    ReversalWindowClosed,
    VoucherNotFound,
)
from perks.vouchers.models import (
    BatchItemStatus,
    BatchStatus,
    Redemption,
    RedemptionBatchItem,
    RedemptionChannel,
)
from perks.vouchers.selectors import (
    redemption_by_ref,
    redemptions_of_merchant,
    reservation_by_ref,
)
from perks.vouchers.services import redemption_reverse, voucher_redeem
from perks.vouchers.services.batches import BatchItem, redemption_batch_by_ref, redemption_batch_create
from surfaces.api.pagination import PAGE_QUERY_PARAMS
from surfaces.api.schema import list_schema
from surfaces.api.serializers import (
    AMOUNT_SCHEMA,
    AmountField,
    AwareDateTimeField,
    BenefitField,
    CurrencyField,
    InputSerializer,
    StrictCharField,
    VoucherCodeField,
    batch_field,
    money_format,
)
from surfaces.api.views.base import PartnerView, parsed, rendered
from surfaces.api.views.vouchers import CODE_HELP, DISCOUNT_BENEFIT_EXAMPLE, USE_ERRORS

METADATA_MAX_KEYS = 20
_CODE = "7K3M-9QXD-2RT4-8"
_REDEMPTION_EXAMPLE = {
    "id": "red_2b4d6f8h0k2m4p6r8t0w",
    "voucher": _CODE,
    "benefit": DISCOUNT_BENEFIT_EXAMPLE,
    "uses_remaining": 0,
    "amount": "42.00",
    "currency": "CNY",
    "location": None,
    "channel": "api",
    "metadata": {"receipt": "R-2026-05-01-0042"},
    "occurred_at": "2026-05-01T09:02:00+08:00",
    "created_at": "2026-05-01T09:02:00+08:00",
    "reversed_at": None,
}


class RedemptionInputSerializer(InputSerializer):
    code = StrictCharField(max_length=64, help_text=CODE_HELP)
    reservation = StrictCharField(
        max_length=64, required=False, help_text="The reservation (rsv_…) holding the use, if you made one."
    )
    location = StrictCharField(max_length=64, required=False, help_text="Your location's code.")
    amount = AmountField(required=False, help_text="The purchase; with currency.")
    currency = CurrencyField(required=False)
    metadata = serializers.DictField(
        child=StrictCharField(max_length=500, allow_blank=True),
        required=False,
        help_text=f"Your own keys and string values (up to {METADATA_MAX_KEYS}), kept with the redemption.",
    )

    def validate_metadata(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > METADATA_MAX_KEYS or any(len(key) > 40 for key in value):
            raise serializers.ValidationError(f"At most {METADATA_MAX_KEYS} keys of at most 40 characters.")
        return value


class RedemptionSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    voucher = VoucherCodeField(source="voucher.code", read_only=True)
    benefit = BenefitField(read_only=True, help_text="What the use gave, computed as it was redeemed.")
    uses_remaining = serializers.IntegerField(
        source="voucher.uses_remaining", read_only=True, help_text="The voucher's uses left now."
    )
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(read_only=True)
    location = serializers.CharField(source="location.code", allow_null=True, read_only=True)
    channel = serializers.ChoiceField(choices=RedemptionChannel.choices, read_only=True)
    metadata = serializers.DictField(read_only=True)
    occurred_at = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    reversed_at = serializers.SerializerMethodField(help_text="When it was reversed, if it was.")

    @extend_schema_field({**AMOUNT_SCHEMA, "nullable": True})
    def get_amount(self, redemption: Redemption) -> str | None:
        return money_format(redemption.amount, redemption.currency)

    def get_reversed_at(self, redemption: Redemption) -> datetime | None:
        if not Redemption.reversal.is_cached(redemption):
            return None  # not read with its reversal: one just made, which has none
        reversal = getattr(redemption, "reversal", None)
        return reversal.created_at if reversal is not None else None


class RedemptionsView(PartnerView):
    write_scope = Scope.REDEMPTIONS_WRITE
    query_params = PAGE_QUERY_PARAMS
    errors = {"post": (VoucherNotFound, ReservationNotFound, *USE_ERRORS, ReservationNotActive)}

    @list_schema(RedemptionSerializer)
    def get(self, request: Request) -> Response:
        """Your redemptions, newest first."""
        return self.page_response(redemptions_of_merchant(merchant=self.merchant), RedemptionSerializer)

    @extend_schema(
        request=RedemptionInputSerializer,
        responses={201: RedemptionSerializer},
        examples=[
            OpenApiExample(
                "At the till, 42.00 CNY",
                request_only=True,
                value={
                    "code": _CODE,
                    "amount": "42.00",
                    "currency": "CNY",
                    "metadata": {"receipt": "R-2026-05-01-0042"},
                },
            ),
            OpenApiExample("Redeemed", response_only=True, status_codes=[201], value=_REDEMPTION_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        """Use a voucher once, consuming your reservation if you name one. Send an
        Idempotency-Key: a retry after a lost answer then cannot use the voucher twice."""
        data = parsed(RedemptionInputSerializer, request)
        reservation = (
            reservation_by_ref(merchant=self.merchant, ref=data["reservation"])
            if "reservation" in data
            else None
        )
        redemption = voucher_redeem(
            merchant=self.merchant,
            actor=self.api_key,
            code=data["code"],
            reservation=reservation,
            location_code=data.get("location"),
            amount=data.get("amount"),
            currency=data.get("currency"),
            metadata=data.get("metadata"),
        )
        return Response(rendered(RedemptionSerializer, redemption), status=status.HTTP_201_CREATED)


class RedemptionView(PartnerView):
    @extend_schema(
        responses=RedemptionSerializer, examples=[OpenApiExample("A redemption", value=_REDEMPTION_EXAMPLE)]
    )
    def get(self, request: Request, redemption_id: str) -> Response:
        """One of your redemptions."""
        return Response(
            rendered(RedemptionSerializer, redemption_by_ref(merchant=self.merchant, ref=redemption_id))
        )


class ReversalInputSerializer(InputSerializer):
    reason = StrictCharField(max_length=300, required=False, allow_blank=True)


class ReversalSerializer(serializers.Serializer):
    redemption = serializers.CharField(source="redemption.ref", read_only=True)
    voucher = VoucherCodeField(source="redemption.voucher.code", read_only=True)
    uses_remaining = serializers.IntegerField(
        source="redemption.voucher.uses_remaining",
        read_only=True,
        help_text="The voucher's uses left, restored.",
    )
    reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class RedemptionReversalView(PartnerView):
    write_scope = Scope.REDEMPTIONS_WRITE
    errors = {"post": (ReversalWindowClosed, AlreadyReversed)}

    @extend_schema(
        request=ReversalInputSerializer,
        responses={201: ReversalSerializer},
        examples=[
            OpenApiExample(
                "The customer changed their mind", request_only=True, value={"reason": "Order cancelled"}
            ),
            OpenApiExample(
                "Reversed",
                response_only=True,
                status_codes=[201],
                value={
                    "redemption": "red_2b4d6f8h0k2m4p6r8t0w",
                    "voucher": _CODE,
                    "uses_remaining": 1,
                    "reason": "Order cancelled",
                    "created_at": "2026-05-01T09:30:00+08:00",
                },
            ),
        ],
    )
    def post(self, request: Request, redemption_id: str) -> Response:
        """Undo a redemption within the reversal window (24 hours): the use is given back."""
        data = parsed(ReversalInputSerializer, request)
        redemption = redemption_by_ref(merchant=self.merchant, ref=redemption_id)
        reversal = redemption_reverse(
            redemption=redemption, actor=self.api_key, reason=data.get("reason", "")
        )
        redemption.voucher.refresh_from_db()
        return Response(rendered(ReversalSerializer, reversal), status=status.HTTP_201_CREATED)


class BatchRedemptionSerializer(InputSerializer):
    code = StrictCharField(max_length=64, help_text=CODE_HELP)
    occurred_at = AwareDateTimeField(help_text="When the till redeemed it, offline.")
    location = StrictCharField(max_length=64, required=False, help_text="Your location's code.")
    amount = AmountField(required=False)
    currency = CurrencyField(required=False)


class BatchInputSerializer(InputSerializer):
    redemptions = batch_field(BatchRedemptionSerializer())


class BatchErrorSerializer(serializers.Serializer):
    code = serializers.CharField(source="error_code", read_only=True)
    message = serializers.CharField(source="error_message", read_only=True)


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=BatchItemStatus.choices, read_only=True)
    redemption = serializers.CharField(
        source="redemption.ref", allow_null=True, read_only=True, help_text="When redeemed: its id."
    )
    error = serializers.SerializerMethodField(help_text="When refused: the code a redemption would get.")

    @extend_schema_field(BatchErrorSerializer(allow_null=True))
    def get_error(self, item: RedemptionBatchItem) -> dict[str, str] | None:
        return rendered(BatchErrorSerializer, item) if item.status == BatchItemStatus.FAILED else None


class BatchAcceptedSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    status = serializers.ChoiceField(choices=BatchStatus.choices, read_only=True)


class BatchSerializer(BatchAcceptedSerializer):
    results = BatchResultSerializer(source="items.all", many=True, read_only=True)


class RedemptionBatchesView(PartnerView):
    write_scope = Scope.REDEMPTIONS_WRITE

    @extend_schema(
        request=BatchInputSerializer,
        responses={202: BatchAcceptedSerializer},
        examples=[
            OpenApiExample(
                "Two redemptions made offline",
                request_only=True,
                value={
                    "redemptions": [
                        {"code": _CODE, "occurred_at": "2026-05-01T08:15:00+08:00"},
                        {
                            "code": "4ZJ8-N1PQ-6WE3-T",
                            "occurred_at": "2026-05-01T08:40:00+08:00",
                            "amount": "42.00",
                            "currency": "CNY",
                        },
                    ]
                },
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=[202],
                value={"id": "bat_6h8k0m2p4r6t8w0y2a4c", "status": "pending"},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Upload redemptions a till made offline (up to 1,000). They are applied in the
        background, one by one, with the same rules; read each one's result at GET
        /redemption-batches/{id}."""
        items = [BatchItem(**item) for item in parsed(BatchInputSerializer, request)["redemptions"]]
        batch = redemption_batch_create(merchant=self.merchant, actor=self.api_key, items=items)
        return Response(rendered(BatchAcceptedSerializer, batch), status=status.HTTP_202_ACCEPTED)


class RedemptionBatchView(PartnerView):
    @extend_schema(
        responses=BatchSerializer,
        examples=[
            OpenApiExample(
                "Applied",
                value={
                    "id": "bat_6h8k0m2p4r6t8w0y2a4c",
                    "status": "done",
                    "results": [
                        {
                            "index": 0,
                            "status": "redeemed",
                            "redemption": "red_2b4d6f8h0k2m4p6r8t0w",
                            "error": None,
                        },
                        {
                            "index": 1,
                            "status": "failed",
                            "redemption": None,
                            "error": {
                                "code": "voucher_already_redeemed",
                                "message": "This voucher has no use left.",
                            },
                        },
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, batch_id: str) -> Response:
        """A batch's progress and each redemption's result, in the order they were sent."""
        return Response(
            rendered(BatchSerializer, redemption_batch_by_ref(merchant=self.merchant, ref=batch_id))
        )
