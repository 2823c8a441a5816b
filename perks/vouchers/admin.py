"""Vouchers in the operator console: browsed, never edited; revoked through the service."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from loyalty.core.adminkit import ReadOnlyAdmin, ReadOnlyInline, operator, run_for_each
from perks.vouchers.codes import UnknownCode, code_format, code_normalize
from perks.vouchers.models import (
    Campaign,
    CampaignChunk,
    Redemption,
    RedemptionReversal,
    Reservation,
    Voucher,
    VoucherStatus,
)
from perks.vouchers.services import voucher_revoke

OPERATOR_REVOKE_REASON = "Withdrawn by the platform operator."


class RedemptionInline(ReadOnlyInline):
    model = Redemption
    fields = ("ref", "created_at", "channel", "location", "amount", "currency", "actor")


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = (
        "formatted_code",
        "perk",
        "merchant",
        "member",
        "status",
        "uses",
        "issued_at",
        "expires_at",
    )
    list_filter = ("status", "source", "merchant")
    list_select_related = ("perk", "merchant", "member")
    search_fields = ("code", "member__ref", "perk__ref")
    date_hierarchy = "issued_at"
    inlines = (RedemptionInline,)
    actions = ("revoke",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Voucher], search_term: str
    ) -> tuple[QuerySet[Voucher], bool]:
        """A code is found however it was typed (`abcd-efgh-…`, with spaces, lower case)."""
        try:
            return queryset.filter(code=code_normalize(search_term)), False
        except UnknownCode:
            return super().get_search_results(request, queryset, search_term)

    @admin.display(description="code", ordering="code")
    def formatted_code(self, voucher: Voucher) -> str:
        return code_format(voucher.code)

    @admin.display(description="uses (used / reserved / allowed)")
    def uses(self, voucher: Voucher) -> str:
        return f"{voucher.uses_count} / {voucher.uses_reserved} / {voucher.uses_allowed}"

    @admin.action(description="Revoke the selected vouchers (a claim's points go back)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Voucher]) -> None:
        actor = operator(request)
        run_for_each(
            request,
            queryset.filter(status=VoucherStatus.ISSUED).select_related("merchant"),
            lambda voucher: voucher_revoke(voucher=voucher, actor=actor, reason=OPERATOR_REVOKE_REASON),
            "Revoked",
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ("ref", "voucher", "merchant", "channel", "location", "created_at", "reversed")
    list_filter = ("channel", "merchant")
    list_select_related = ("voucher", "merchant", "location", "reversal")
    search_fields = ("ref", "voucher__code")
    date_hierarchy = "created_at"

    @admin.display(boolean=True)
    def reversed(self, redemption: Redemption) -> bool:
        return hasattr(redemption, "reversal")


@admin.register(RedemptionReversal)
class RedemptionReversalAdmin(ReadOnlyAdmin):
    list_display = ("redemption", "actor", "reason", "created_at")
    list_select_related = ("redemption",)
    search_fields = ("redemption__ref",)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("ref", "voucher", "merchant", "status", "created_at", "expires_at", "ended_at")
    list_filter = ("status",)
    list_select_related = ("voucher", "merchant")
    search_fields = ("ref", "voucher__code")


class CampaignChunkInline(ReadOnlyInline):
    model = CampaignChunk
    fields = (
        "index",
        "first_member_id",
        "last_member_id",
        "size",
        "status",
        "issued",
        "skipped",
        "finished_at",
    )


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    """Campaigns as they run: counters, who started them, why one failed, and each chunk."""

    list_display = ("ref", "merchant", "perk", "status", "total", "issued", "skipped", "created_at")
    list_filter = ("status", "merchant")
    list_select_related = ("merchant", "perk")
    search_fields = ("ref", "perk__ref", "merchant__slug")
    date_hierarchy = "created_at"
    inlines = (CampaignChunkInline,)
