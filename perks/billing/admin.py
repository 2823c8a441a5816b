"""Billing in the operator console: plans and fees edited through the services; profiles,
invoices, runs, deposits and Stripe events looked at as the records they are; an event
applied again on demand."""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from loyalty.core.adminkit import ReadOnlyAdmin, ServiceAdmin, ServiceForm, run_for_each
from perks.billing import services
from perks.billing.models import (
    BillingProfile,
    Deposit,
    Invoice,
    InvoiceRun,
    PlanPrice,
    RedemptionFee,
    StripeEvent,
)


class PlanPriceAddForm(ServiceForm):
    class Meta:
        model = PlanPrice
        fields = ("name", "currency", "monthly_fee", "is_default")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.plan_price_create(
            name=data["name"],
            currency=data["currency"],
            monthly_fee=data["monthly_fee"],
            is_default=data["is_default"],
        )


class PlanPriceChangeForm(ServiceForm):
    class Meta:
        model = PlanPrice
        fields = ("name", "monthly_fee", "is_default")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.plan_price_update(
            plan=self.instance,
            name=data["name"],
            monthly_fee=data["monthly_fee"],
            is_default=data["is_default"],
        )


class RedemptionFeeForm(ServiceForm):
    class Meta:
        model = RedemptionFee
        fields = ("plan", "perk_type", "amount")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.redemption_fee_set(
            plan=data["plan"], perk_type=data["perk_type"], amount=data["amount"]
        )


@admin.register(PlanPrice)
class PlanPriceAdmin(ServiceAdmin):
    list_display = ("name", "currency", "monthly_fee", "is_default", "stripe_plan_id", "updated_at")
    readonly_fields = ("currency", "stripe_plan_id", "created_at", "updated_at")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = PlanPriceChangeForm if obj else PlanPriceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RedemptionFee)
class RedemptionFeeAdmin(ServiceAdmin):
    """A fee is set (made or changed) for a plan and a perk type."""

    form = RedemptionFeeForm
    list_display = ("plan", "perk_type", "amount")
    list_filter = ("plan", "perk_type")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BillingProfile)
class BillingProfileAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "plan", "status", "stripe_customer_id", "stripe_account", "paused_at")
    list_filter = ("status", "plan")
    list_select_related = ("merchant", "plan")
    search_fields = ("merchant__name", "merchant__ref", "stripe_customer_id", "stripe_account")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "ref",
        "merchant",
        "period_start",
        "amount_due",
        "currency",
        "status",
        "issued_at",
        "paid_at",
    )
    list_filter = ("status",)
    list_select_related = ("merchant",)
    search_fields = ("ref", "stripe_id", "merchant__name")
    date_hierarchy = "issued_at"


@admin.register(InvoiceRun)
class InvoiceRunAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "period", "step", "outcome", "attempts", "error", "finished_at")
    list_filter = ("step", "period")
    list_select_related = ("merchant",)


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("ref", "merchant", "member", "amount", "currency", "status", "created_at", "expires_at")
    list_filter = ("status", "capture_policy")
    list_select_related = ("merchant", "member")
    search_fields = ("ref", "member__ref", "payment_intent_id", "setup_intent_id")
    date_hierarchy = "created_at"
    exclude = ("client_secret",)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("stripe_id", "type", "received_at", "applied_at", "result", "error")
    list_filter = ("type",)
    search_fields = ("stripe_id", "type")
    date_hierarchy = "received_at"
    actions = ("replay",)

    @admin.action(description="Apply the selected events again (each re-reads its object from Stripe)")
    def replay(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        run_for_each(
            request, queryset, lambda event: services.stripe_event_replay(event=event), "Applied again"
        )
