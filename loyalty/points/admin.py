"""The operator console for the ledger: read-only browsing, and adjustments as transactions.

Nothing here edits a posting, a transaction or a balance. A correction is made with the
"Adjust points" page of a member wallet, which posts a balanced transaction through
`points_adjust`; earn rules and tier multipliers are changed by adding a new version.
"""

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from loyalty.core.adminkit import ReadOnlyAdmin, ReadOnlyInline
from loyalty.core.errors import DomainError
from loyalty.points.models import (
    Account,
    AccountKind,
    EarnRule,
    PointsLot,
    PointsTransaction,
    Posting,
    TierMultiplier,
)
from loyalty.points.reasons import reason_text
from loyalty.points.services import points_adjust


class VersionAdmin(admin.ModelAdmin):
    """Rules are versions: an operator adds one with a later start, never edits or deletes."""

    readonly_fields = ("created_at", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(EarnRule)
class EarnRuleAdmin(VersionAdmin):
    list_display = ("merchant_category", "currency", "points_per_unit", "effective_from", "created_by")
    list_filter = ("merchant_category", "currency")


@admin.register(TierMultiplier)
class TierMultiplierAdmin(VersionAdmin):
    list_display = ("tier", "multiplier", "effective_from", "created_by")
    list_filter = ("tier",)


class AdjustmentForm(forms.Form):
    points = forms.IntegerField(help_text="Positive to credit the wallet, negative to debit it.")
    note = forms.CharField(max_length=200, help_text="Why: the member reads this on their statement.")
    # Made when the form is shown, so a double submit posts once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def clean_points(self) -> int:
        points: int = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("Adjust by at least one point.")
        return points


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "kind", "balance", "ledger_link")
    list_filter = ("kind",)
    search_fields = ("member__ref", "merchant_ref", "platform")
    list_select_related = ("member",)
    show_full_result_count = False

    @admin.display(description="Ledger")
    def ledger_link(self, account: Account) -> str:
        url = reverse("admin:points_posting_changelist") + f"?account__id__exact={account.pk}"
        links = format_html('<a href="{}">postings</a>', url)
        if account.kind == AccountKind.MEMBER:
            adjust = reverse("admin:points_account_adjust", args=[account.pk])
            links = format_html('{} · <a href="{}">adjust points</a>', links, adjust)
        return links

    def get_urls(self) -> list[URLPattern]:
        adjust = path(
            "<int:account_id>/adjust/",
            self.admin_site.admin_view(self.adjust_view),
            name="points_account_adjust",
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request: HttpRequest, account_id: int) -> HttpResponse:
        if not request.user.has_perm("points.add_pointstransaction"):
            raise PermissionDenied
        wallet = get_object_or_404(
            Account.objects.select_related("member"), pk=account_id, kind=AccountKind.MEMBER
        )
        assert wallet.member is not None
        form = AdjustmentForm(
            request.POST or None, initial={"idempotency_key": f"admin-adjust:{uuid.uuid4()}"}
        )
        if request.method == "POST" and form.is_valid():
            try:
                points_adjust(
                    member=wallet.member,
                    points=form.cleaned_data["points"],
                    note=form.cleaned_data["note"],
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    actor=f"operator:{request.user.get_username()}",
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Adjusted {wallet} by {form.cleaned_data['points']:+d} points.")
                return HttpResponseRedirect(
                    reverse("admin:points_posting_changelist") + f"?account__id__exact={wallet.pk}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust points: {wallet}",
            "wallet": wallet,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/points/adjust.html", context)


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ("account", "amount")


@admin.register(PointsTransaction)
class PointsTransactionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "kind", "reason", "actor", "merchant_ref", "reverses")
    list_filter = ("kind", "reason_code")
    search_fields = ("idempotency_key", "merchant_ref", "actor")
    inlines = [PostingInline]
    show_full_result_count = False
    readonly_fields = [f.name for f in PointsTransaction._meta.fields]

    @admin.display(description="Reason")
    def reason(self, tx: PointsTransaction) -> str:
        return reason_text(tx.reason_code, tx.reason_params)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    """The ledger of an account: its postings, newest first, with what caused each."""

    list_display = ("pk", "when", "account", "amount", "reason", "transaction_link")
    list_filter = ("account__kind",)
    search_fields = ("account__member__ref", "account__merchant_ref", "transaction__idempotency_key")
    list_select_related = ("transaction", "account")
    ordering = ("-pk",)
    show_full_result_count = False

    @admin.display(description="When")
    def when(self, posting: Posting) -> Any:
        return posting.transaction.created_at

    @admin.display(description="Reason")
    def reason(self, posting: Posting) -> str:
        return reason_text(posting.transaction.reason_code, posting.transaction.reason_params)

    @admin.display(description="Transaction")
    def transaction_link(self, posting: Posting) -> str:
        url = reverse("admin:points_pointstransaction_change", args=[posting.transaction_id])
        return format_html('<a href="{}">{}</a>', url, posting.transaction_id)


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ("account", "earned_on", "expires_on", "points", "remaining")
    list_filter = ("expires_on",)
    search_fields = ("account__member__ref",)
    list_select_related = ("account",)
    show_full_result_count = False
