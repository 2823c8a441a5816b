from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from loyalty.core.adminkit import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceForm,
    operator,
    run_for_each,
)
from loyalty.core.errors import DomainError
from perks.merchants import services
from perks.merchants.models import (
    ApiKey,
    AuditEntry,
    Location,
    Merchant,
    MerchantStatus,
    Staff,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from perks.merchants.permissions import Scope


class LocationInline(ReadOnlyInline):
    model = Location
    fields = ("code", "name", "address", "is_active")


class StaffInline(ReadOnlyInline):
    model = Staff
    fields = ("user", "role", "added_at")


class MerchantAddForm(ServiceForm):
    slug = forms.SlugField(required=False, help_text="Leave blank to make one from the name.")
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(), help_text="The merchant's first owner."
    )

    class Meta:
        model = Merchant
        fields = ("name", "slug", "category")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.merchant_create(
            name=data["name"],
            slug=data["slug"],
            category=data["category"],
            owner=data["owner"],
            actor=self.actor,
        )


class MerchantChangeForm(ServiceForm):
    new_logo = forms.FileField(required=False, help_text="PNG, JPEG or WebP; replaces the logo.")

    class Meta:
        model = Merchant
        fields = ("name",)

    def perform(self, data: dict[str, Any]) -> Model:
        merchant = services.merchant_update(merchant=self.instance, actor=self.actor, name=data["name"])
        if data.get("new_logo"):
            services.merchant_logo_set(merchant=merchant, actor=self.actor, upload=data["new_logo"])
        return merchant


@admin.register(Merchant)
class MerchantAdmin(ServiceAdmin):
    list_display = ("name", "slug", "category", "status", "created_at")
    list_filter = ("category", "status")
    search_fields = ("name", "slug", "ref")
    readonly_fields = ("ref", "slug", "category", "status", "logo", "created_at")
    inlines = (LocationInline, StaffInline)
    actions = ("suspend", "reactivate")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = MerchantChangeForm if obj else MerchantAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Suspend the selected merchants")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        self._set_status(request, queryset, MerchantStatus.SUSPENDED, "Suspended")

    @admin.action(description="Reactivate the selected merchants")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        self._set_status(request, queryset, MerchantStatus.ACTIVE, "Reactivated")

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Merchant], status: str, done: str) -> None:
        def change(merchant: Merchant) -> object:
            reason = "Changed by the operator in the admin console."
            return services.merchant_status_set(
                merchant=merchant, status=status, actor=operator(request), reason=reason
            )

        run_for_each(request, queryset, change, done)


class LocationAddForm(ServiceForm):
    class Meta:
        model = Location
        fields = ("merchant", "name", "code", "address")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.location_create(
            merchant=data["merchant"],
            actor=self.actor,
            name=data["name"],
            code=data["code"],
            address=data["address"],
        )


class LocationChangeForm(ServiceForm):
    class Meta:
        model = Location
        fields = ("is_active",)

    def perform(self, data: dict[str, Any]) -> Model:
        return services.location_set_active(
            location=self.instance, actor=self.actor, active=data["is_active"]
        )


@admin.register(Location)
class LocationAdmin(ServiceAdmin):
    list_display = ("code", "name", "merchant", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "ref", "merchant__name")
    list_select_related = ("merchant",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = LocationChangeForm if obj else LocationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("ref", "merchant", "name", "code", "address") if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StaffAddForm(ServiceForm):
    class Meta:
        model = Staff
        fields = ("merchant", "user", "role")

    def perform(self, data: dict[str, Any]) -> Model:
        return services.staff_add(
            merchant=data["merchant"], user=data["user"], role=data["role"], actor=self.actor
        )


class StaffChangeForm(ServiceForm):
    class Meta:
        model = Staff
        fields = ("role",)

    def perform(self, data: dict[str, Any]) -> Model:
        staff = self.instance
        return services.staff_role_change(
            merchant=staff.merchant, user=staff.user, role=data["role"], actor=self.actor
        )


@admin.register(Staff)
class StaffAdmin(ServiceAdmin):
    list_display = ("user", "merchant", "role", "added_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__username", "merchant__name")
    list_select_related = ("user", "merchant")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = StaffChangeForm if obj else StaffAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("merchant", "user", "added_at") if obj else ()

    def delete_model(self, request: HttpRequest, obj: Staff) -> None:
        services.staff_remove(merchant=obj.merchant, user=obj.user, actor=operator(request))

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:  # such as removing the last owner: said on the page, nothing removed
            messages.error(request, error.message)
            return redirect("admin:merchants_staff_change", object_id)


class ApiKeyAddForm(ServiceForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the key may change.",
    )

    class Meta:
        model = ApiKey
        fields = ("merchant", "name")

    def perform(self, data: dict[str, Any]) -> Model:
        created = services.api_key_create(
            merchant=data["merchant"], actor=self.actor, name=data["name"], scopes=data["scopes"]
        )
        self.plaintext = created.plaintext
        return created.key


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdmin):
    """Keys are made here and revoked here; their secret is shown once, on the page after."""

    form = ApiKeyAddForm
    list_display = ("prefix", "name", "merchant", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "merchant__name")
    list_select_related = ("merchant",)
    readonly_fields = (
        "prefix",
        "merchant",
        "name",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else ("merchant", "name", "scopes")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes) or "read only"

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        request.new_api_key = form.plaintext  # type: ignore[attr-defined]
        return super().save_form(request, form, change)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "key": obj, "plaintext": request.new_api_key}  # type: ignore[attr-defined]
        response = TemplateResponse(request, "admin/merchants/apikey/created.html", context)
        response["Cache-Control"] = "no-store"  # the only copy of the secret must not linger in caches
        return response

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        run_for_each(
            request,
            queryset,
            lambda key: services.api_key_revoke(key=key, actor=operator(request)),
            "Revoked",
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "merchant", "event_list", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "ref", "merchant__name")
    list_select_related = ("merchant",)
    exclude = ("secret",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ("deactivate", "activate")

    @admin.display(description="events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    @admin.action(description="Stop sending to the selected endpoints")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_active(request, queryset, False, "Deactivated")

    @admin.action(description="Send to the selected endpoints again")
    def activate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_active(request, queryset, True, "Activated")

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], active: bool, done: str
    ) -> None:
        def change(endpoint: WebhookEndpoint) -> object:
            return services.webhook_endpoint_update(
                endpoint=endpoint, actor=operator(request), is_active=active
            )

        run_for_each(request, queryset, change, done)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    show_change_link = False
    fields = ("number", "started_at", "outcome", "status_code", "latency_ms", "error", "response_excerpt")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("ref", "event", "endpoint", "status", "attempt_count", "next_attempt_at", "created_at")
    list_filter = ("status",)
    search_fields = ("ref", "event__ref", "endpoint__url")
    list_select_related = ("event", "endpoint")
    inlines = (WebhookAttemptInline,)
    actions = ("retry",)

    @admin.action(description="Retry the selected failed deliveries now")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        def again(delivery: WebhookDelivery) -> object:
            return services.webhook_delivery_retry(delivery=delivery, actor=operator(request))

        run_for_each(request, queryset.select_related("endpoint__merchant"), again, "Retrying")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("ref", "type", "merchant", "created_at")
    list_filter = ("type",)
    search_fields = ("ref", "merchant__name")
    list_select_related = ("merchant",)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "merchant", "action", "target", "actor_user", "actor_key")
    list_filter = ("action",)
    search_fields = ("merchant__name", "target", "action")
    list_select_related = ("merchant", "actor_user", "actor_key")
