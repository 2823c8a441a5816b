"""The operator console for members: who they are, their consent, and who looked them up.
Everything here is read-only: consent is the member's choice. The scoring app adds the
member's score and tier history to this page (loyalty/scoring/admin.py)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from loyalty.core.adminkit import ReadOnlyInline
from loyalty.members.models import Consent, ConsentChange, Member, MemberLookup


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
    ]
    fields = [*readonly_fields]
    inlines = [ConsentInline, ConsentChangeInline, LookupInline]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
