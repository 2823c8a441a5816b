"""The operator console for scoring: tiers, event kinds and weights, scores, holds, appeals,
disputes.

History is read-only here (snapshots, tier changes, audit rows are evidence). Editing a
tier band goes through `tier_save`, which checks the bands and re-tiers everyone; an appeal
is decided through `hold_appeal_decide`, a dispute through `dispute_decide`.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from loyalty.core.adminkit import ReadOnlyAdmin, ReadOnlyInline
from loyalty.core.errors import DomainError
from loyalty.members.admin import MemberAdmin
from loyalty.members.models import Member
from loyalty.scoring import explain
from loyalty.scoring.engine import ENGINE, HORIZON_HALF_LIVES
from loyalty.scoring.models import (
    AppealStatus,
    Dispute,
    DisputeChange,
    DisputeStatus,
    EventKind,
    Hold,
    HoldAppeal,
    HoldAuditEntry,
    MemberStanding,
    Tier,
)
from loyalty.scoring.selectors import merchant_names_of_member, score_history, standing_of, tier_history
from loyalty.scoring.services import dispute_decide, hold_appeal_decide, tier_bands_check, tier_save

HISTORY_SHOWN = 20


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["slug", "name", "name_zh", "rank", "min_score", "max_score"]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        bands = ("rank", "min_score", "max_score")
        if any(cleaned.get(name) is None for name in bands):
            return cleaned
        candidate = Tier(pk=self.instance.pk, **{name: cleaned[name] for name in bands})
        try:
            tier_bands_check(changed=candidate, others=Tier.objects.all())
        except DomainError as error:
            raise forms.ValidationError(error.message) from error
        return cleaned


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    form = TierForm
    list_display = ["rank", "slug", "name", "name_zh", "min_score", "max_score"]
    ordering = ["rank"]

    def save_model(self, request: HttpRequest, obj: Tier, form: Any, change: bool) -> None:
        tier_save(tier=obj)
        messages.info(request, "Every member is being re-tiered against the new bands.")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EventKind)
class EventKindAdmin(admin.ModelAdmin):
    """Kinds may be added and relabelled; a kind's dimension and impact never change once it
    exists, since old and new events of one code would then count differently."""

    list_display = ["code", "dimension", "impact", "partner_reportable", "label", "label_zh"]
    list_filter = ["dimension", "partner_reportable"]

    def get_readonly_fields(self, request: HttpRequest, obj: EventKind | None = None) -> list[str]:
        return ["code", "dimension", "impact", "partner_reportable"] if obj else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        rules = [
            {
                "dimension": rule.dimension,
                "weight": rule.weight,
                "half_life_days": rule.half_life_days,
                "horizon_days": rule.half_life_days * HORIZON_HALF_LIVES,
                "cap": rule.cap,
            }
            for rule in ENGINE.rules
        ]
        engine = {"version": ENGINE.version, "baseline": ENGINE.baseline, "rules": rules}
        return super().changelist_view(request, {**(extra_context or {}), "engine": engine})


@admin.register(MemberStanding)
class MemberStandingAdmin(ReadOnlyAdmin):
    list_display = ["member", "score", "tier", "below_band_since", "updated_at"]
    list_filter = ["tier"]
    search_fields = ["member__ref"]
    list_select_related = ["member", "tier"]
    show_full_result_count = False


class HoldAuditInline(ReadOnlyInline):
    model = HoldAuditEntry
    fields = ["at", "action", "actor", "note"]


class HoldAppealInline(HoldAuditInline):
    model = HoldAppeal  # type: ignore[assignment]
    fields = ["filed_at", "text", "status", "decided_at", "decided_by", "decision_note"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = [
        "ref",
        "member",
        "merchant_name",
        "category",
        "reason_code",
        "status",
        "placed_at",
        "expires_at",
    ]
    list_filter = ["status", "category", "reason_code"]
    search_fields = ["ref", "member__ref", "merchant_ref", "obligation_ref"]
    inlines = [HoldAppealInline, HoldAuditInline]
    list_select_related = ["member"]


class DecisionForm(forms.ModelForm):
    """An operator's decision, which always says why."""

    def clean_decision_note(self) -> str:
        note: str = self.cleaned_data["decision_note"].strip()
        if not note:
            raise forms.ValidationError("Say why: the member and the merchant read it.")
        return note


class DecisionAdmin(admin.ModelAdmin):
    """A queue of requests an operator decides through the domain's service, once, saying
    why; nothing is added or deleted here."""

    def is_decided(self, obj: Any) -> bool:
        raise NotImplementedError

    def decide(self, obj: Any, operator: Any, upheld: bool, note: str) -> None:
        raise NotImplementedError

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and self.is_decided(obj):
            return [*self.readonly_fields, "decision_note"]
        return list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            self.decide(
                obj,
                request.user,
                form.cleaned_data["decision"] == "uphold",
                form.cleaned_data["decision_note"],
            )
        except DomainError as error:
            messages.error(request, error.message)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AppealDecisionForm(DecisionForm):
    decision = forms.ChoiceField(
        choices=[("uphold", "Uphold: lift the hold"), ("reject", "Reject: the hold stays")],
        widget=forms.RadioSelect,
    )

    class Meta:
        model = HoldAppeal
        fields = ["decision", "decision_note"]


class AppealQueue(admin.SimpleListFilter):
    """Open appeals unless asked otherwise: the queue is what an operator works through."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("decided", "Decided"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[HoldAppeal]) -> QuerySet[HoldAppeal]:
        if self.value() == "all":
            return queryset
        if self.value() == "decided":
            return queryset.exclude(status=AppealStatus.OPEN)
        return queryset.filter(status=AppealStatus.OPEN)

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Open",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(HoldAppeal)
class HoldAppealAdmin(DecisionAdmin):
    """The appeals queue: open appeals first, oldest first; deciding one lifts or keeps the hold."""

    form = AppealDecisionForm
    list_display = ["filed_at", "hold", "member", "merchant", "status"]
    list_filter = [AppealQueue]
    ordering = ["filed_at"]
    list_select_related = ["hold__member"]
    readonly_fields = ["hold_details", "text", "filed_at", "status", "decided_at", "decided_by"]

    @admin.display(description="member")
    def member(self, appeal: HoldAppeal) -> Member:
        return appeal.hold.member

    @admin.display(description="merchant")
    def merchant(self, appeal: HoldAppeal) -> str:
        return appeal.hold.merchant_name

    @admin.display(description="hold")
    def hold_details(self, appeal: HoldAppeal) -> SafeString:
        hold = appeal.hold
        rows = [
            ("Hold", hold.ref),
            ("Merchant", f"{hold.merchant_name} ({hold.merchant_ref})"),
            ("Suspends", hold.get_category_display()),
            ("Reason", hold.get_reason_code_display()),
            ("The merchant's account", hold.detail),
            ("Evidence", hold.evidence),
            ("To lift it", hold.lift_condition),
            ("Obligation", hold.obligation_ref),
            ("Placed / expires", f"{hold.placed_at:%Y-%m-%d} / {hold.expires_at:%Y-%m-%d}"),
            ("Status", hold.get_status_display()),
        ]
        return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))

    def get_fields(self, request: HttpRequest, obj: HoldAppeal | None = None) -> Any:
        decided = obj is not None and self.is_decided(obj)
        tail = ["decision_note"] if decided else ["decision", "decision_note"]
        return ["hold_details", "text", "filed_at", "status", "decided_at", "decided_by", *tail]

    def is_decided(self, obj: HoldAppeal) -> bool:
        return obj.status != AppealStatus.OPEN

    def decide(self, obj: HoldAppeal, operator: Any, upheld: bool, note: str) -> None:
        hold_appeal_decide(appeal=obj, operator=operator, upheld=upheld, note=note)


class DisputeChangeInline(ReadOnlyInline):
    model = DisputeChange
    fields = ["at", "status", "actor", "note"]


class DisputeDecisionForm(DecisionForm):
    decision = forms.ChoiceField(
        choices=[
            ("overturn", "Overturn: the event is removed"),
            ("uphold", "Uphold: the event counts again (only once the merchant stood by it)"),
        ],
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Dispute
        fields = ["decision", "decision_note"]


class DisputeQueue(admin.SimpleListFilter):
    """Disputes waiting for an operator (the merchant stood by the event) unless asked otherwise."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Waiting for the merchant"), ("decided", "Decided"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.value() == "all":
            return queryset
        if self.value() == "open":
            return queryset.filter(status=DisputeStatus.OPEN)
        if self.value() == "decided":
            return queryset.exclude(status__in=[DisputeStatus.OPEN, DisputeStatus.CONFIRMED])
        return queryset.filter(status=DisputeStatus.CONFIRMED)

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "To decide",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(Dispute)
class DisputeAdmin(DecisionAdmin):
    """The disputes queue: events their merchant stood by, oldest due first. Upholding one
    makes it count again; overturning removes it. Unresolved by its due time, it lapses."""

    form = DisputeDecisionForm
    list_display = ["due_at", "event_details", "member", "merchant_ref", "status"]
    list_filter = [DisputeQueue]
    ordering = ["due_at"]
    list_select_related = ["member", "event"]
    search_fields = ["member__ref", "merchant_ref", "event__external_id"]
    readonly_fields = [
        "event_details",
        "reason",
        "opened_at",
        "due_at",
        "evidence",
        "confirmed_at",
        "status",
        "decided_at",
        "decided_by",
    ]
    inlines = [DisputeChangeInline]

    @admin.display(description="event")
    def event_details(self, dispute: Dispute) -> SafeString:
        event = dispute.event
        merchant = merchant_names_of_member(pairs=[(dispute.member_id, dispute.merchant_ref)])
        rows = [
            ("Event", f"{event.kind_id} ({event.dimension}, impact {event.impact:+d})"),
            ("Merchant", f"{merchant[(dispute.member_id, dispute.merchant_ref)]} ({dispute.merchant_ref})"),
            ("Merchant's id", event.external_id),
            (
                "Occurred / recorded",
                f"{event.occurred_at:%Y-%m-%d %H:%M} / {event.recorded_at:%Y-%m-%d %H:%M}",
            ),
        ]
        return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))

    def get_fields(self, request: HttpRequest, obj: Dispute | None = None) -> Any:
        decided = obj is not None and self.is_decided(obj)
        tail = ["decision_note"] if decided else ["decision", "decision_note"]
        return [*self.readonly_fields, *tail]

    def is_decided(self, obj: Dispute) -> bool:
        return obj.status not in (DisputeStatus.OPEN, DisputeStatus.CONFIRMED)

    def decide(self, obj: Dispute, operator: Any, upheld: bool, note: str) -> None:
        dispute_decide(dispute=obj, operator=operator, upheld=upheld, note=note)


def standing_summary(member: Member) -> SafeString:
    standing = standing_of(member=member)
    pending = (
        format_html(
            " — below the band: moves to {} on {:%Y-%m-%d} unless it recovers",
            standing.pending_tier,
            standing.pending_downgrade_on,
        )
        if standing.pending_downgrade_on
        else ""
    )
    return format_html("<strong>{}</strong>, {}{}", standing.score, standing.tier, pending)


def score_history_table(member: Member) -> SafeString:
    rows = []
    for snapshot in score_history(member=member)[:HISTORY_SHOWN]:
        parts = ", ".join(
            f"{c.dimension} {c.points:+d}" if c.shared else f"{c.dimension} not shared"
            for c in explain.contributions(snapshot)
        )
        reasons = " / ".join(f"{r.code}: {r.text_en}" for r in explain.reasons(snapshot))
        rows.append(
            (
                f"{snapshot.computed_at:%Y-%m-%d %H:%M}",
                snapshot.get_cause_display(),
                snapshot.score,
                snapshot.tier,
                parts,
                reasons,
            )
        )
    return _table(["computed", "cause", "score", "tier", "contributions", "reasons"], rows)


def tier_history_table(member: Member) -> SafeString:
    rows = [
        (
            f"{change.changed_at:%Y-%m-%d %H:%M}",
            change.previous_tier or "—",
            change.tier,
            change.score,
            change.get_cause_display(),
        )
        for change in tier_history(member=member)[:HISTORY_SHOWN]
    ]
    return _table(["when", "from", "to", "score", "why"], rows)


def _table(headings: list[str], rows: list[tuple[Any, ...]]) -> SafeString:
    head = format_html_join("", "<th>{}</th>", ((heading,) for heading in headings))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class MemberWithStandingAdmin(MemberAdmin):
    """The member page, with the score and tier history the scoring app keeps."""

    readonly_fields = [*MemberAdmin.readonly_fields, "standing", "score_history", "tier_history"]
    fields = [*readonly_fields]

    @admin.display(description="score and tier")
    def standing(self, member: Member) -> SafeString:
        return standing_summary(member)

    @admin.display(description="score history (latest first), with reason codes")
    def score_history(self, member: Member) -> SafeString:
        return score_history_table(member)

    @admin.display(description="tier history")
    def tier_history(self, member: Member) -> SafeString:
        return tier_history_table(member)


admin.site.unregister(Member)
admin.site.register(Member, MemberWithStandingAdmin)
