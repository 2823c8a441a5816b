"""What the operator console's pages share.

Histories and logs are looked at, never edited (`ReadOnlyAdmin`, `ReadOnlyInline`).
Everything else changes through the services, like every other surface: a `ServiceForm`
calls its service while the form is being validated (inside the admin's transaction), so a
refusal shows on the form, on the field the error names, and the admin saves nothing
itself. `ServiceAdmin` hands the form the signed-in operator as the actor and keeps
Django's own saving and bulk deletion out of the way.
"""

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from loyalty.core.errors import DomainError


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


class ServiceForm(forms.ModelForm):
    actor: ClassVar[User]

    def perform(self, data: dict[str, Any]) -> Model:
        """Call the service with the cleaned data; return the object it made or changed."""
        raise NotImplementedError

    def _post_clean(self) -> None:
        if self.errors:
            return
        try:
            self.instance = self.perform(self.cleaned_data)
        except DomainError as error:
            # `params.max_amount` belongs on the `params` field.
            field = (error.param or "").split(".")[0]
            self.add_error(field if field in self.fields else None, error.message)

    def save(self, commit: bool = True) -> Any:
        return self.instance

    def save_m2m(self) -> None:
        """The service saved any relations too."""


class ServiceAdmin(admin.ModelAdmin):
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": operator(request)})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The form's service has saved it already."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


def operator(request: HttpRequest) -> User:
    """The signed-in person the admin acts for (the admin lets no one else in)."""
    if not isinstance(request.user, User):
        raise PermissionError("the admin console needs a signed-in user")
    return request.user


def run_for_each(
    request: HttpRequest, queryset: QuerySet[Any], action: Callable[[Any], object], done: str
) -> None:
    """Apply a service to each selected object; report refusals one by one, not as a crash."""
    succeeded = 0
    for obj in queryset:
        try:
            action(obj)
            succeeded += 1
        except DomainError as error:
            messages.error(request, f"{obj}: {error.message}")
    if succeeded:
        messages.success(request, f"{done}: {succeeded}.")
