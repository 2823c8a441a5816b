from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from loyalty.core.adminkit import ServiceAdmin, ServiceForm, operator, run_for_each
from perks.catalog import services
from perks.catalog.models import Perk, PerkStatus


def _service_values(data: dict[str, Any], fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The form's values as the services take them: a tier by its slug."""
    values = {field: data[field] for field in fields if field in data}
    if "min_tier" in values:
        values["min_tier"] = values["min_tier"].slug if values["min_tier"] else None
    return values


class PerkAddForm(ServiceForm):
    uses_per_voucher = forms.IntegerField(required=False, help_text="Blank: 1, or an access pass's entries.")

    class Meta:
        model = Perk
        fields = ("merchant", "type", "status", *services.EDITABLE_FIELDS)

    def perform(self, data: dict[str, Any]) -> Model:
        values = _service_values(data, services.EDITABLE_FIELDS)
        return services.perk_create(
            merchant=data["merchant"], actor=self.actor, type=data["type"], status=data["status"], **values
        )


class PerkChangeForm(ServiceForm):
    new_image = forms.FileField(required=False, help_text="PNG, JPEG or WebP; replaces the image.")

    class Meta:
        model = Perk
        fields = services.EDITABLE_FIELDS

    def perform(self, data: dict[str, Any]) -> Model:
        changed = [field for field in self.changed_data if field in services.EDITABLE_FIELDS]
        perk = services.perk_update(
            perk=self.instance, actor=self.actor, changes=_service_values(data, changed)
        )
        if data.get("new_image"):
            services.perk_image_set(perk=perk, actor=self.actor, upload=data["new_image"])
        return perk


@admin.register(Perk)
class PerkAdmin(ServiceAdmin):
    list_display = (
        "title",
        "merchant",
        "type",
        "status",
        "min_tier",
        "min_score",
        "issued_count",
        "inventory",
    )
    list_filter = ("status", "type", "merchant__category")
    search_fields = ("title", "title_zh", "ref", "merchant__name")
    list_select_related = ("merchant", "min_tier")
    actions = ("activate", "pause", "archive")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = PerkChangeForm if obj else PerkAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            ("ref", "merchant", "type", "status", "issued_count", "image", "created_at", "updated_at")
            if obj
            else ()
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Activate the selected perks")
    def activate(self, request: HttpRequest, queryset: QuerySet[Perk]) -> None:
        self._move(request, queryset, PerkStatus.ACTIVE, "Activated")

    @admin.action(description="Pause the selected perks")
    def pause(self, request: HttpRequest, queryset: QuerySet[Perk]) -> None:
        self._move(request, queryset, PerkStatus.PAUSED, "Paused")

    @admin.action(description="Archive the selected perks (final)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Perk]) -> None:
        self._move(request, queryset, PerkStatus.ARCHIVED, "Archived")

    def _move(self, request: HttpRequest, queryset: QuerySet[Perk], to: str, done: str) -> None:
        actor = operator(request)
        perks = queryset.select_related("merchant")
        run_for_each(
            request, perks, lambda perk: services.perk_transition(perk=perk, actor=actor, to=to), done
        )
