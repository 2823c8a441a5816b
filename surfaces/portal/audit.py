"""The audit trail in the portal: who did what at the merchant, in sentences, filtered, and as CSV.

Each kind of entry (perks.merchants.audit.AuditAction) is told by one sentence here, and
nowhere else: the page and the CSV read the same `audit_lines`. A sentence names people by
their name (or e-mail), keys by their prefix, perks by their title in the reader's language,
places by their name and vouchers by their code as a cashier reads it; the names are looked
up once for a page (or a chunk of the CSV), not once an entry.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.core.replica import lag_tolerant
from loyalty.scoring.models import Hold
from perks.catalog.models import Perk, PerkStatus
from perks.catalog.wording import perk_title
from perks.merchants.audit import AuditAction
from perks.merchants.models import AuditEntry, Location, MerchantStatus, WebhookEndpoint
from perks.merchants.permissions import Permission, Role
from perks.merchants.selectors import api_keys_of_merchant, audit_entries_of_merchant, staff_of_merchant
from perks.merchants.services.keys import KEY_LABEL
from perks.vouchers.codes import code_format
from perks.vouchers.exports import csv_cell
from perks.vouchers.models import Voucher
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.hooks_forms import AuditFilterForm
from surfaces.portal.pages import page_of

CSV_CHUNK = 500


@dataclass(frozen=True)
class AuditLine:
    """One entry as a reader reads it."""

    entry: AuditEntry
    actor: str
    sentence: str

    @property
    def kind(self) -> str:
        return str(AuditAction(self.entry.action).label) if self.entry.action in AuditAction.values else ""


@dataclass
class _Names:
    """What a batch of entries names, looked up in one query a kind of thing."""

    perks: dict[str, str] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    voucher_perks: dict[str, str] = field(default_factory=dict)
    hold_members: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Told:
    """What a sentence may say about an entry."""

    entry: AuditEntry
    names: _Names

    @property
    def params(self) -> Mapping[str, Any]:
        return self.entry.params or {}

    @property
    def target(self) -> str:
        return self.entry.target

    def perk(self, ref: str | None = None) -> str:
        ref = ref if ref is not None else self.target
        return self.names.perks.get(ref or "", _("a perk that no longer exists"))

    def location(self, ref: str | None = None) -> str:
        ref = ref if ref is not None else self.target
        return self.names.locations.get(ref or "", _("a location that no longer exists"))

    def endpoint(self) -> str:
        return self.names.endpoints.get(self.target) or str(self.params.get("url") or _("a webhook endpoint"))

    def person(self) -> str:
        return self.names.people.get(self.target, _("someone no longer on the staff"))

    def role(self, name: str) -> str:
        value = self.params.get(name)
        return str(Role(value).label) if value in Role.values else _("another role")

    def code(self) -> str:
        return code_format(self.target) if self.target else ""

    def day(self, name: str) -> str:
        value = self.params.get(name)
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return date_format(timezone.localtime(moment), "DATE_FORMAT") if isinstance(moment, datetime) else ""


def _key(prefix: str) -> str:
    return _("the API key %(key)s") % {"key": f"{KEY_LABEL}{prefix}…"}


def _redemption(told: _Told, redeemed: str, redeemed_at: str) -> str:
    location = told.params.get("location")
    perk = told.perk(told.params.get("perk"))
    return (
        redeemed_at % {"perk": perk, "location": told.location(location)}
        if location
        else redeemed % {"perk": perk}
    )


def _perk_status(told: _Told) -> str:
    to, before = told.params.get("to"), told.params.get("from")
    if to == PerkStatus.ACTIVE:
        said = (
            _("resumed the perk %(perk)s")
            if before == PerkStatus.PAUSED
            else _("made the perk %(perk)s live")
        )
    elif to == PerkStatus.PAUSED:
        said = _("paused the perk %(perk)s")
    elif to == PerkStatus.ARCHIVED:
        said = _("archived the perk %(perk)s")
    else:
        said = _("moved the perk %(perk)s back to draft")
    return said % {"perk": told.perk()}


def _endpoint_update(told: _Told) -> str:
    if set(told.params) == {"is_active"}:
        said = _("turned on %(url)s") if told.params["is_active"] else _("turned off %(url)s")
    else:
        said = _("changed the webhook endpoint %(url)s")
    return said % {"url": told.endpoint()}


def _merchant_status(told: _Told) -> str:
    to = told.params.get("to")
    if to == MerchantStatus.ACTIVE:
        return _("restored the merchant")
    if to == MerchantStatus.SUSPENDED:
        return _("suspended the merchant")
    return _("paused the merchant's new vouchers for an unpaid invoice")


def _voucher(told: _Told, said: str) -> str:
    perk = told.names.voucher_perks.get(told.target, _("a perk"))
    return said % {"code": told.code(), "perk": perk}


def _hold_placed(told: _Told) -> str:
    until = told.day("expires_at")
    member = str(told.params.get("member") or "")
    if until:
        return _("placed a hold on the perks of member %(member)s until %(day)s") % {
            "member": member,
            "day": until,
        }
    return _("placed a hold on the perks of member %(member)s") % {"member": member}


# What each kind of entry says, after the actor's name: one place, for the page and the CSV.
PREDICATES: dict[str, Callable[[_Told], str]] = {
    AuditAction.MERCHANT_CREATED: lambda t: _("opened the merchant's account"),
    AuditAction.MERCHANT_UPDATED: lambda t: (
        _("renamed the merchant %(name)s") % {"name": t.params.get("name", "")}
    ),
    AuditAction.MERCHANT_STATUS_CHANGED: _merchant_status,
    AuditAction.MERCHANT_LOGO_SET: lambda t: _("changed the logo"),
    AuditAction.LOCATION_CREATED: lambda t: _("added the location %(location)s") % {"location": t.location()},
    AuditAction.LOCATION_ACTIVATED: lambda t: (
        _("reopened the location %(location)s") % {"location": t.location()}
    ),
    AuditAction.LOCATION_DEACTIVATED: lambda t: (
        _("closed the location %(location)s") % {"location": t.location()}
    ),
    AuditAction.LOCATION_UPDATED: lambda t: (
        _("edited the location %(location)s") % {"location": t.location()}
    ),
    AuditAction.STAFF_INVITED: lambda t: (
        _("invited %(email)s to join as %(role)s") % {"email": t.target, "role": t.role("role")}
    ),
    AuditAction.STAFF_INVITATION_REVOKED: lambda t: (
        _("withdrew the invitation of %(email)s") % {"email": t.target}
    ),
    AuditAction.STAFF_JOINED: lambda t: _("joined the staff as %(role)s") % {"role": t.role("role")},
    AuditAction.STAFF_ADDED: lambda t: (
        _("added %(person)s as %(role)s") % {"person": t.person(), "role": t.role("role")}
    ),
    AuditAction.STAFF_ROLE_CHANGED: lambda t: (
        _("made %(person)s %(role)s") % {"person": t.person(), "role": t.role("to")}
    ),
    AuditAction.STAFF_REMOVED: lambda t: _("removed %(person)s from the staff") % {"person": t.person()},
    AuditAction.KEY_CREATED: lambda t: _("created %(key)s") % {"key": _key(t.target)},
    AuditAction.KEY_REVOKED: lambda t: _("revoked %(key)s") % {"key": _key(t.target)},
    AuditAction.WEBHOOK_ENDPOINT_CREATED: lambda t: (
        _("added the webhook endpoint %(url)s") % {"url": t.endpoint()}
    ),
    AuditAction.WEBHOOK_ENDPOINT_UPDATED: _endpoint_update,
    AuditAction.WEBHOOK_ENDPOINT_TESTED: lambda t: _("sent a test event to %(url)s") % {"url": t.endpoint()},
    AuditAction.WEBHOOK_DELIVERY_RETRIED: lambda t: _("retried a failed webhook delivery"),
    AuditAction.PERK_CREATED: lambda t: _("created the perk %(perk)s") % {"perk": t.perk()},
    AuditAction.PERK_UPDATED: lambda t: _("edited the perk %(perk)s") % {"perk": t.perk()},
    AuditAction.PERK_STATUS_CHANGED: _perk_status,
    AuditAction.PERK_IMAGE_SET: lambda t: _("changed the image of %(perk)s") % {"perk": t.perk()},
    AuditAction.VOUCHER_ISSUED: lambda t: _voucher(t, _("issued a voucher for %(perk)s (%(code)s)")),
    AuditAction.VOUCHER_REVOKED: lambda t: _voucher(t, _("revoked the voucher %(code)s for %(perk)s")),
    AuditAction.REDEMPTION_CREATED: lambda t: _redemption(
        t, _("redeemed %(perk)s"), _("redeemed %(perk)s at %(location)s")
    ),
    AuditAction.REDEMPTION_REVERSED: lambda t: _redemption(
        t, _("reversed a redemption of %(perk)s"), _("reversed a redemption of %(perk)s at %(location)s")
    ),
    AuditAction.CAMPAIGN_CREATED: lambda t: (
        _("started a campaign of %(perk)s") % {"perk": t.perk(t.params.get("perk"))}
    ),
    AuditAction.HOLD_PLACED: _hold_placed,
    AuditAction.HOLD_LIFTED: lambda t: (
        _("lifted the hold on the perks of member %(member)s")
        % {"member": t.names.hold_members.get(t.target, "")}
    ),
    AuditAction.HOLD_APPEAL_DECLINED: lambda t: (
        _("answered an appeal: the hold on the perks of member %(member)s should stay")
        % {"member": t.names.hold_members.get(t.target, "")}
    ),
    AuditAction.BILLING_PROFILE_CREATED: lambda t: (
        _("set up billing on the %(plan)s plan") % {"plan": t.target}
    ),
    AuditAction.BILLING_ACCOUNT_SET: lambda t: _("connected the payout account"),
    AuditAction.BILLING_CARD_SAVED: lambda t: _("saved a card for invoices"),
    AuditAction.BILLING_PAUSED: lambda t: _("paused new vouchers: an invoice is unpaid past its due date"),
    AuditAction.BILLING_RESUMED: lambda t: _("resumed new vouchers: the unpaid invoices are paid"),
}


def actor_name(entry: AuditEntry) -> str:
    """Who did it, as people say it: a person's name (else e-mail), a key, or Perkline."""
    if entry.actor_user is not None:
        return _person(entry.actor_user)
    if entry.actor_key is not None:
        return _("API key %(key)s") % {"key": f"{KEY_LABEL}{entry.actor_key.prefix}…"}
    return _("Perkline")


def audit_lines(entries: Iterable[AuditEntry]) -> list[AuditLine]:
    """The entries as sentences: "<who> <did what>", with what they name looked up at once."""
    entries = list(entries)
    names = _names_of(entries)
    return [_line(entry, names) for entry in entries]


def _line(entry: AuditEntry, names: _Names) -> AuditLine:
    actor = actor_name(entry)
    predicate = PREDICATES.get(entry.action)
    said = predicate(_Told(entry, names)) if predicate else _("made a change")
    return AuditLine(entry=entry, actor=actor, sentence=f"{actor} {said}")


def _person(user: User) -> str:
    return user.get_full_name() or user.email or user.get_username()


def _names_of(entries: list[AuditEntry]) -> _Names:
    by_kind: dict[str, set[str]] = {}
    for entry in entries:
        for name, value in _named(entry):
            if value:
                by_kind.setdefault(name, set()).add(str(value))
    names = _Names()
    if not entries:
        return names
    merchant = entries[0].merchant_id
    if refs := by_kind.get("perk"):
        names.perks = {
            perk.ref: perk_title(perk) for perk in Perk.objects.filter(merchant_id=merchant, ref__in=refs)
        }
    if refs := by_kind.get("location"):
        names.locations = dict(
            Location.objects.filter(merchant_id=merchant, ref__in=refs).values_list("ref", "name")
        )
    if refs := by_kind.get("endpoint"):
        names.endpoints = dict(
            WebhookEndpoint.objects.filter(merchant_id=merchant, ref__in=refs).values_list("ref", "url")
        )
    if ids := by_kind.get("person"):
        people = User.objects.filter(pk__in=[int(pk) for pk in ids if pk.isdigit()])
        names.people = {str(user.pk): _person(user) for user in people}
    if codes := by_kind.get("voucher"):
        vouchers = Voucher.objects.filter(merchant_id=merchant, code__in=codes).select_related("perk")
        names.voucher_perks = {voucher.code: perk_title(voucher.perk) for voucher in vouchers}
    if refs := by_kind.get("hold"):
        names.hold_members = dict(Hold.objects.filter(ref__in=refs).values_list("ref", "member__ref"))
    return names


# Which entries name what, by kind: (what, where in the entry) pairs.
_TARGETS = {
    "perk.": "perk",
    "location.": "location",
    "webhook_endpoint.": "endpoint",
    "staff.": "person",
    "voucher.": "voucher",
    "hold.": "hold",
}


def _named(entry: AuditEntry) -> Iterator[tuple[str, Any]]:
    for prefix, name in _TARGETS.items():
        if entry.action.startswith(prefix):
            yield name, entry.target
    params = entry.params or {}
    if entry.action.startswith(("redemption.", "campaign.")):
        yield "perk", params.get("perk")
        yield "location", params.get("location")


@never_cache
@require_GET
@portal_page(permission=Permission.AUDIT_VIEW)
@lag_tolerant
def audit(request: StaffRequest) -> HttpResponse:
    """Who did what. Its targets include vouchers' live codes: no browser or proxy keeps a copy."""
    form = _filter_form(request)
    entries = page_of(request, _filtered(request, form))
    return render(
        request,
        "portal/audit.html",
        {
            "form": form,
            "entries": entries,
            "lines": audit_lines(entries.object_list),
            "query": _query_without_page(request),
        },
    )


@never_cache
@require_GET
@portal_page(permission=Permission.AUDIT_VIEW)
@lag_tolerant
def audit_csv(request: StaffRequest) -> StreamingHttpResponse:
    """The filtered trail, oldest first, streamed a chunk of entries at a time."""
    entries = _filtered(request, _filter_form(request)).order_by("created_at", "id")
    response = StreamingHttpResponse(_csv_chunks(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{request.merchant.slug}-audit.csv"'
    return response


def _filter_form(request: StaffRequest) -> AuditFilterForm:
    keys = api_keys_of_merchant(merchant=request.merchant)
    staff = staff_of_merchant(merchant=request.merchant)
    actors = [(f"user:{member.user_id}", _person(member.user)) for member in staff]
    actors += [
        (f"key:{key.prefix}", _("API key %(key)s") % {"key": f"{KEY_LABEL}{key.prefix}…"}) for key in keys
    ]
    return AuditFilterForm(request.GET or None, actors=actors)


def _filtered(request: StaffRequest, form: AuditFilterForm) -> Any:
    if not form.is_bound or not form.is_valid():
        return audit_entries_of_merchant(merchant=request.merchant)
    data = form.cleaned_data
    kind, value = (data["actor"] or ":").split(":", 1)
    since, until = form.bounds()
    return audit_entries_of_merchant(
        merchant=request.merchant,
        actor_user_id=int(value) if kind == "user" and value.isdigit() else None,
        actor_key_prefix=value if kind == "key" else None,
        actions=[data["kind"]] if data["kind"] else None,
        since=since,
        until=until,
    )


def _query_without_page(request: StaffRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _csv_chunks(entries: Any) -> Iterator[str]:
    yield _csv_text([(_("When"), _("Who"), _("What happened"), _("Kind"))])
    rows = iter(entries.iterator(chunk_size=CSV_CHUNK))
    while chunk := list(islice(rows, CSV_CHUNK)):
        yield _csv_text(
            (
                timezone.localtime(line.entry.created_at).isoformat(timespec="seconds"),
                line.actor,
                line.sentence,
                line.kind,
            )
            for line in audit_lines(chunk)
        )


def _csv_text(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()
