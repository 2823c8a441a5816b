"""Perks in the portal: the merchant's list, one perk with who qualifies for it now, a form
per perk type to create or edit one, its image, and its changes of state as actions, each
confirmed on a page that says what it does.

Every rule is the catalog's (perks/catalog/services.py, params.py, rules.py and
eligibility.py), the same the partner API keeps: the form turns typing into the API's
values and puts the services' refusals next to the fields they name. The services write
the audit trail. Any role reads the perks; changing them needs `perks.manage`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, cast

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.headers import csp_allow
from loyalty.core.replica import lag_tolerant
from loyalty.scoring.selectors import tiers
from perks.catalog.eligibility import perk_qualifying_count
from perks.catalog.models import Perk, PerkStatus, PerkType
from perks.catalog.rules import PERK_TRANSITIONS, perk_is_live
from perks.catalog.selectors import perk_by_ref, perks_of_merchant
from perks.catalog.services import perk_create, perk_image_set, perk_transition, perk_update
from perks.merchants.images import image_url
from perks.merchants.permissions import Permission
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.pages import attempt, page_of
from surfaces.portal.perk_forms import PerkArchiveForm, PerkForm, new_perk_initial, perk_initial

THUMB_WIDTH = 64
# The button that shows a type's fields without script, and what it does not carry over.
SHOW_FIELDS = "show_fields"
KEPT_OUT = frozenset({"csrfmiddlewaretoken", SHOW_FIELDS, "status"})
IMAGE_WIDTH = 320


@dataclass(frozen=True)
class Action:
    """A change of state a person may ask for, and what it does, in their words."""

    to: str
    label: Promise
    question: Promise
    consequences: Promise


# What each move does, as the services do it: a voucher is redeemed only while its perk is
# live (perks.vouchers.services.redemption), a campaign's chunks skip the members of a perk
# that is not, and auto-issue gives the perk to members as they reach its tier, not before.
ACTIONS: dict[tuple[str, str], Action] = {
    (PerkStatus.DRAFT, PerkStatus.ACTIVE): Action(
        PerkStatus.ACTIVE,
        gettext_lazy("Publish"),
        gettext_lazy("Publish this perk?"),
        gettext_lazy(
            "Members who qualify see it in the app and can claim it from the date it is on offer. "
            "With auto-issue, members receive it as they reach its tier from now on; members "
            "already there do not, so start a campaign for them."
        ),
    ),
    (PerkStatus.PAUSED, PerkStatus.ACTIVE): Action(
        PerkStatus.ACTIVE,
        gettext_lazy("Resume"),
        gettext_lazy("Resume this perk?"),
        gettext_lazy(
            "Members who qualify see it again and can claim it, and the vouchers they hold can be "
            "redeemed again, until their own expiry dates."
        ),
    ),
    (PerkStatus.ACTIVE, PerkStatus.PAUSED): Action(
        PerkStatus.PAUSED,
        gettext_lazy("Pause"),
        gettext_lazy("Pause this perk?"),
        gettext_lazy(
            "Members stop seeing it and cannot claim it. Vouchers they already hold cannot be "
            "redeemed while it is paused: they keep their expiry dates and work again when you "
            "resume it. A campaign of it still running skips the members it has not reached."
        ),
    ),
}
ARCHIVE = Action(
    PerkStatus.ARCHIVED,
    gettext_lazy("Archive…"),
    gettext_lazy("Archive this perk?"),
    gettext_lazy(
        "This cannot be undone. Members stop seeing it, nobody can claim it, and vouchers "
        "members already hold can no longer be redeemed. Its vouchers, redemptions and audit "
        "trail stay, and so does this page."
    ),
)
# Buttons in the order a person reads them: going forward first, archiving last.
ACTION_ORDER = (PerkStatus.ACTIVE, PerkStatus.PAUSED, PerkStatus.ARCHIVED)


def _action(current: str, to: str) -> Action | None:
    if to not in PERK_TRANSITIONS.get(current, frozenset()):
        return None
    return ARCHIVE if to == PerkStatus.ARCHIVED else ACTIONS.get((current, to))


def perk_actions(perk: Perk) -> list[Action]:
    """The actions PERK_TRANSITIONS allows from the perk's state, in reading order."""
    found = (_action(perk.status, to) for to in ACTION_ORDER)
    return [action for action in found if action is not None]


def _image_preview_sources() -> dict[str, list[str]]:
    """The form shows the chosen file before it is sent, from a blob: URL (perk_form.js)."""
    return {"img-src": ["blob:"]}


@require_GET
@portal_page(permission=None)
@lag_tolerant
def perks(request: StaffRequest) -> HttpResponse:
    """The merchant's perks, newest first."""
    listed = page_of(request, perks_of_merchant(merchant=request.merchant))
    rows = [(perk, _image(perk, THUMB_WIDTH)) for perk in listed]
    return render(
        request,
        "portal/perks.html",
        {"perks": listed, "rows": rows, "can_manage": may_use(request, "portal:perk-create")},
    )


@require_http_methods(["GET", "POST"])
@csp_allow(_image_preview_sources)
@portal_page(permission=Permission.PERKS_MANAGE)
def perk_new(request: StaffRequest) -> HttpResponse:
    """A new perk. The type comes first: changing it shows that type's fields (htmx swaps
    them in; without script, "Show its fields" reloads the form with what was typed)."""
    chosen = request.POST.get("type") or request.GET.get("type") or PerkType.FREE_ITEM
    perk_type = chosen if chosen in PerkType.values else PerkType.FREE_ITEM
    if request.method != "POST" or SHOW_FIELDS in request.POST:
        # What was typed stays, as the starting values of the chosen type's form.
        typed = {name: value for name, value in request.POST.items() if name not in KEPT_OUT}
        initial = {**new_perk_initial(), **request.GET.dict(), **typed, "type": perk_type}
        form = PerkForm(initial=initial, perk_type=perk_type, tiers=list(tiers()), new=True)
        return _form_page(request, form, None)
    form = PerkForm(request.POST, request.FILES, perk_type=perk_type, tiers=list(tiers()), new=True)
    status = request.POST.get("status", PerkStatus.DRAFT)
    created = _saved(
        form,
        lambda: perk_create(
            merchant=request.merchant,
            actor=request.user,
            type=form.cleaned_data["type"],
            status=status,
            **form.service_values(),
        ),
    )
    if created is None:
        return _form_page(request, form, None)
    if not _image_saved(request, form, created):
        messages.error(request, _("The perk is saved, but not its image: %(why)s") % {"why": _why(form)})
        return redirect("portal:perk-edit", slug=request.merchant.slug, ref=created.ref)
    messages.success(request, _("The perk is created."))
    return redirect("portal:perk", slug=request.merchant.slug, ref=created.ref)


@require_http_methods(["GET", "POST"])
@csp_allow(_image_preview_sources)
@portal_page(permission=Permission.PERKS_MANAGE)
def perk_edit(request: StaffRequest, ref: str) -> HttpResponse:
    """Change a perk's words, parameters, audience, limits or image; its type stays."""
    found = _perk(request, ref)
    initial = perk_initial(found)
    tier_list = list(tiers())
    if request.method != "POST":
        form = PerkForm(initial=initial, perk_type=found.type, tiers=tier_list, new=False)
        return _form_page(request, form, found)
    form = PerkForm(
        request.POST, request.FILES, initial=initial, perk_type=found.type, tiers=tier_list, new=False
    )
    updated = _saved(form, lambda: perk_update(perk=found, actor=request.user, changes=form.changed_values()))
    if updated is None:
        return _form_page(request, form, found)
    if not _image_saved(request, form, updated):
        messages.error(request, _("Your other changes are saved; the image was not."))
        return _form_page(request, form, updated)
    messages.success(request, _("The perk is saved."))
    return redirect("portal:perk", slug=request.merchant.slug, ref=found.ref)


@require_GET
@portal_page(permission=None)
@lag_tolerant
def perk(request: StaffRequest, ref: str) -> HttpResponse:
    """One perk: what members read, its terms, who qualifies now, and what may be done to it."""
    found = _perk(request, ref)
    can_manage = may_use(request, "portal:perk-edit")
    return render(
        request,
        "portal/perk.html",
        {
            "perk": found,
            "image_url": _image(found, IMAGE_WIDTH),
            "qualifying": perk_qualifying_count(perk=found),
            "is_live": perk_is_live(perk=found, at=timezone.now()),
            "actions": perk_actions(found) if can_manage else [],
            "can_manage": can_manage,
        },
    )


@require_http_methods(["GET", "POST"])
@portal_page(permission=Permission.PERKS_MANAGE)
def perk_status(request: StaffRequest, ref: str) -> HttpResponse:
    """A change of state: GET asks to confirm and says what it does; POST makes it.

    Archiving, which cannot be undone, asks for the perk's title to be typed."""
    found = _perk(request, ref)
    to = request.POST.get("to") or request.GET.get("to") or ""
    action = _action(found.status, to)
    if action is None:
        if request.method == "POST":  # as the service would refuse it, in its words
            attempt(
                request,
                lambda: perk_transition(perk=found, actor=request.user, to=to),
                _("The perk's status has changed."),
            )
        return redirect("portal:perk", slug=request.merchant.slug, ref=found.ref)
    is_archive = action.to == PerkStatus.ARCHIVED
    form = PerkArchiveForm(request.POST if request.method == "POST" else None, perk=found)
    if request.method == "POST" and (not is_archive or form.is_valid()):
        attempt(
            request,
            lambda: perk_transition(perk=found, actor=request.user, to=action.to),
            _("Done: the perk is now %(status)s.") % {"status": PerkStatus(action.to).label.lower()},
        )
        return redirect("portal:perk", slug=request.merchant.slug, ref=found.ref)
    status = 200 if request.method != "POST" else 400
    return render(
        request,
        "portal/perk_confirm.html",
        {"perk": found, "action": action, "form": form if is_archive else None},
        status=status,
    )


def _form_page(request: StaffRequest, form: PerkForm, perk: Perk | None) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "perk": perk, "image_url": _image(perk, IMAGE_WIDTH) if perk else ""}
    return render(request, "portal/perk_form.html", context, status=status)


def _saved(form: PerkForm, save: Callable[[], Perk]) -> Perk | None:
    """The perk `save` made or changed, or None with the refusal on the form."""
    if not form.is_valid():
        return None
    try:
        return save()
    except DomainError as error:
        form.error_place(error)
        return None


def _image_saved(request: StaffRequest, form: PerkForm, perk: Perk) -> bool:
    """Store the uploaded image, if any, through the images pipeline; False if it refused it."""
    upload = form.cleaned_data.get("image")
    if not upload:
        return True
    try:
        perk_image_set(perk=perk, actor=request.user, upload=cast(IO[bytes], upload.file))
    except DomainError as error:
        form.error_place(error)
        return False
    return True


def _why(form: PerkForm) -> str:
    return " ".join(str(message) for message in form.errors.get("image", []))


def _image(perk: Perk, width: int) -> str:
    return image_url(perk.image.name, kind="perk", size=width) if perk.image.name else ""


def _perk(request: StaffRequest, ref: str) -> Perk:
    try:
        return perk_by_ref(merchant=request.merchant, ref=ref)
    except NotFound:
        raise Http404 from None
