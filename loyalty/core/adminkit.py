"""What the operator console's pages share: histories and logs are looked at, never edited."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class _NoWrites:
    """Nothing added, changed or deleted through this page."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(_NoWrites, admin.ModelAdmin):
    """History and logs: looked at, never added, edited or deleted here."""


class ReadOnlyInline(_NoWrites, admin.TabularInline):
    """Rows shown under their parent as they are: `fields` only, none added or changed."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or ()
