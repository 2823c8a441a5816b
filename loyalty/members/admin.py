"""The operator console for members: who they are, their consent, and who looked them up.
Everything here is read-only: consent is the member's choice. The one change is erasure,
for a request whose identity the operator verified, after a page that asks to confirm it.
The scoring app adds the member's score and tier history to this page
(loyalty/scoring/admin.py)."""

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from loyalty.core.adminkit import ReadOnlyInline, run_for_each
from loyalty.members.models import Consent, ConsentChange, Member, MemberLookup
from loyalty.members.services import member_erase


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ["dimension", "granted", "changed_at"]


class ConsentChangeInline(ReadOnlyInline):
    model = ConsentChange
    fields = ["changed_at", "dimension", "granted", "source"]
    ordering = ["-changed_at"]
    verbose_name_plural = "consent history"


class LookupInline(ReadOnlyInline):
    model = MemberLookup
    fields = ["looked_up_at", "merchant_name", "merchant_ref", "purpose"]
    ordering = ["-looked_up_at"]
    verbose_name_plural = "look-ups by partners"


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["ref", "display_name", "user", "locale", "joined_at"]
    search_fields = ["ref", "user__email", "display_name"]
    list_select_related = ["user"]
    readonly_fields = [
        *("ref", "user", "display_name", "locale", "email_verified", "phone", "phone_verified", "joined_at"),
        *("erasure_requested_at", "erased_at"),
    ]
    fields = [*readonly_fields]
    inlines = [ConsentInline, ConsentChangeInline, LookupInline]
    show_full_result_count = False
    actions = ["erase"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Erase the selected members (a verified request)", permissions=["change"])
    def erase(self, request: HttpRequest, queryset: QuerySet[Member]) -> TemplateResponse | None:
        """Ask first, on a page naming each member; the erasure runs on the confirmed post."""
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase members",
                "members": queryset.select_related("user"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/members/member/erase_confirmation.html", context)
        run_for_each(request, queryset, lambda member: self._erase(request, member), "Erased")
        return None

    def _erase(self, request: HttpRequest, member: Member) -> None:
        if member_erase(member=member):
            self.log_change(request, member, "Erased on a verified request.")
