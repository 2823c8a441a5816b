"""Deposits: waived by the member's deposit waiver, or held on their card until you release
or capture them (docs/integration.md, Deposits).

A deposit waiting on the member (a card to save, 3-D Secure) is re-checked with Stripe
whenever it is read, so reading it after the member's checkout shows where it is now,
whichever of Stripe's events have arrived.
"""

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import LookupPurpose
from perks.billing.errors import DepositNotHeld, PaymentFailed, PaymentProviderUnavailable
from perks.billing.models import CapturePolicy, Deposit, DepositStatus
from perks.billing.selectors import deposit_of_merchant, deposits_of_merchant
from perks.billing.services import (
    deposit_capture,
    deposit_create,
    deposit_refresh,
    deposit_release,
    deposits_refresh,
)
from perks.merchants.permissions import Scope
from surfaces.api.members import MemberInput
from surfaces.api.pagination import PAGE_QUERY_PARAMS, page_of
from surfaces.api.schema import list_schema
from surfaces.api.serializers import (
    AMOUNT_SCHEMA,
    AmountField,
    CurrencyField,
    InputSerializer,
    StrictCharField,
    VoucherCodeField,
    money_format,
)
from surfaces.api.views.base import PartnerView, parsed, rendered

_DEPOSIT_ID = "dep_5k7m9p1r3t5w7y9a1c3e"
_HELD = {
    "id": _DEPOSIT_ID,
    "status": "held",
    "amount": "3000.00",
    "currency": "CNY",
    "member": "mem_7d2k9q4x1m8v3b6n0r5t",
    "location": "PVG-T2",
    "capture_policy": "release",
    "waived_by": None,
    "client_secret": None,  # nosec B105  # a made-up example for the API docs
    "captured_amount": None,
    "expires_at": "2026-05-08T09:00:00+08:00",
    "created_at": "2026-05-01T09:00:00+08:00",
}
_WAIVED = {**_HELD, "status": "waived", "waived_by": "7K3M-9QXD-2RT4-8", "expires_at": None}
_ASKED = {
    **_HELD,
    "status": "requires_payment_method",
    "client_secret": "seti_1PerklineDemo_secret_4f6h8k",  # nosec B105  # a made-up example for the API docs
    "expires_at": "2026-05-02T09:00:00+08:00",
}
# What a request to Stripe may end in, beside the request's own errors.
_STRIPE_ERRORS = (PaymentFailed, PaymentProviderUnavailable)


class DepositInputSerializer(MemberInput):
    amount = AmountField(help_text="The deposit to hold, in the currency's unit.")
    currency = CurrencyField()
    location = StrictCharField(max_length=64, required=False, help_text="Your location's code.")
    capture_policy = serializers.ChoiceField(
        choices=CapturePolicy.choices,
        required=False,
        help_text=(
            "What happens to a hold still open 6 days later, before the card's authorisation "
            "lapses: release it (the default) or capture it in full."
        ),
    )


class DepositSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    status = serializers.ChoiceField(
        choices=DepositStatus.choices,
        read_only=True,
        help_text=(
            "waived, requires_payment_method (the member saves a card with client_secret), "
            "requires_action (the member completes 3-D Secure with client_secret), held, "
            "released, captured, or expired (the authorisation lapsed, or it was never completed)."
        ),
    )
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(read_only=True)
    member = serializers.CharField(source="member.ref", read_only=True)
    location = serializers.CharField(
        source="location.code", allow_null=True, read_only=True, help_text="Your location's code."
    )
    capture_policy = serializers.ChoiceField(choices=CapturePolicy.choices, read_only=True)
    waived_by = VoucherCodeField(
        source="waived_by.code",
        allow_null=True,
        read_only=True,
        help_text="When waived: the code of the member's deposit waiver, whose use was redeemed.",
    )
    client_secret = serializers.SerializerMethodField(
        help_text=(
            "While requires_payment_method or requires_action: the secret of the SetupIntent or "
            "PaymentIntent your checkout (or the member's app) confirms with Stripe.js, with "
            "Stripe(publishable key, {stripeAccount: your connected account}). Null otherwise."
        )
    )
    captured_amount = serializers.SerializerMethodField(help_text="When captured: how much was taken.")
    expires_at = serializers.DateTimeField(
        allow_null=True,
        read_only=True,
        help_text="Pending: when it expires if not completed. Held: when the authorisation lapses.",
    )
    created_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(AMOUNT_SCHEMA)
    def get_amount(self, deposit: Deposit) -> str | None:
        return money_format(deposit.amount, deposit.currency)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_client_secret(self, deposit: Deposit) -> str | None:
        return deposit.client_secret or None

    @extend_schema_field({**AMOUNT_SCHEMA, "nullable": True})
    def get_captured_amount(self, deposit: Deposit) -> str | None:
        return money_format(deposit.captured_amount, deposit.currency)


class CaptureInputSerializer(InputSerializer):
    amount = AmountField(
        required=False, help_text="How much of the hold to take, at most what is held; all of it if absent."
    )


class DepositsView(PartnerView):
    write_scope = Scope.DEPOSITS_WRITE
    query_params = PAGE_QUERY_PARAMS
    errors = {"post": (MemberNotFound, *_STRIPE_ERRORS)}
    # A replay answers it null: the partner reads the pending deposit for it (GET /deposits/{id}).
    secret_fields = ("client_secret",)

    @list_schema(DepositSerializer)
    def get(self, request: Request) -> Response:
        """Your deposits, newest first; those waiting on the member are re-checked with Stripe."""
        page = page_of(deposits_of_merchant(merchant=self.merchant), request.query_params)
        deposits = deposits_refresh(deposits=page.items)
        return Response(
            {"data": [rendered(DepositSerializer, d) for d in deposits], "has_more": page.has_more}
        )

    @extend_schema(
        request=DepositInputSerializer,
        responses={201: DepositSerializer},
        examples=[
            OpenApiExample(
                "A car's deposit at the airport desk",
                request_only=True,
                value={
                    "member_pass": "mp1.eyJtIjoibWVtXzdkMms5cTR4MW04djNiNm4wcjV0In0.sig",  # nosec B105  # a made-up example for the API docs
                    "amount": "3000.00",
                    "currency": "CNY",
                    "location": "PVG-T2",
                },
            ),
            OpenApiExample("Waived", response_only=True, status_codes=[201], value=_WAIVED),
            OpenApiExample("Held on a saved card", response_only=True, status_codes=[201], value=_HELD),
            OpenApiExample("Waiting for a card", response_only=True, status_codes=[201], value=_ASKED),
        ],
    )
    def post(self, request: Request) -> Response:
        """Ask a member for a deposit. Waived when they hold a deposit waiver of yours that
        covers it (its use is redeemed); else held on the card they saved with you, or
        `requires_payment_method` with a `client_secret` for your checkout to save one.
        With no card deposits possible (no payment provider, or no connected account), 422
        `payment_failed` says why; 503 `payment_provider_unavailable` when Stripe cannot be
        reached: nothing was done, retry with the same Idempotency-Key."""
        data = parsed(DepositInputSerializer, request)
        member = self.member_from(data, purpose=LookupPurpose.DEPOSIT)
        deposit = deposit_create(
            merchant=self.merchant,
            actor=self.api_key,
            member=member,
            amount=data["amount"],
            currency=data["currency"],
            location_code=data.get("location"),
            capture_policy=data.get("capture_policy", CapturePolicy.RELEASE),
        )
        return Response(rendered(DepositSerializer, deposit), status=status.HTTP_201_CREATED)


class DepositView(PartnerView):
    @extend_schema(responses=DepositSerializer, examples=[OpenApiExample("Held", value=_HELD)])
    def get(self, request: Request, deposit_id: str) -> Response:
        """One of your deposits, as it is now: one waiting on the member is re-checked with
        Stripe (as last known if Stripe cannot be reached)."""
        deposit = deposit_of_merchant(merchant=self.merchant, ref=deposit_id)
        return Response(rendered(DepositSerializer, deposit_refresh(deposit=deposit, stale_ok=True)))


class DepositReleaseView(PartnerView):
    write_scope = Scope.DEPOSITS_WRITE
    errors = {"post": (DepositNotHeld, PaymentProviderUnavailable)}

    @extend_schema(
        request=None,
        responses={200: DepositSerializer},
        examples=[
            OpenApiExample(
                "Released", response_only=True, status_codes=[200], value={**_HELD, "status": "released"}
            )
        ],
    )
    def post(self, request: Request, deposit_id: str) -> Response:
        """Let the hold go: nothing is taken from the card. 409 `deposit_not_held` when the
        deposit is not held (waived, pending, or already released or captured)."""
        parsed(InputSerializer, request)
        deposit = deposit_of_merchant(merchant=self.merchant, ref=deposit_id)
        return Response(rendered(DepositSerializer, deposit_release(deposit=deposit, actor=self.api_key)))


class DepositCaptureView(PartnerView):
    write_scope = Scope.DEPOSITS_WRITE
    errors = {"post": (DepositNotHeld, *_STRIPE_ERRORS)}

    @extend_schema(
        request=CaptureInputSerializer,
        responses={200: DepositSerializer},
        examples=[
            OpenApiExample("A scratch to repair", request_only=True, value={"amount": "450.00"}),
            OpenApiExample(
                "Captured",
                response_only=True,
                status_codes=[200],
                value={**_HELD, "status": "captured", "captured_amount": "450.00"},
            ),
        ],
    )
    def post(self, request: Request, deposit_id: str) -> Response:
        """Take `amount` of the hold (all of it without `amount`); the rest goes back to the
        card. More than is held is 400 `validation_error` on `amount`; 409 `deposit_not_held`
        when the deposit is not held."""
        data = parsed(CaptureInputSerializer, request)
        deposit = deposit_of_merchant(merchant=self.merchant, ref=deposit_id)
        amount: Decimal | None = data.get("amount")
        captured = deposit_capture(deposit=deposit, actor=self.api_key, amount=amount)
        return Response(rendered(DepositSerializer, captured))
