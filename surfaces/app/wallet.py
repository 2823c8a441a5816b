"""The member's perks and voucher wallet: what they can have now, and when they cannot,
why and what would change it; the vouchers they hold, each with its QR code to show.

A perk out of reach is explained, never hidden and never blamed on the member: the tier
or score that unlocks it, the points still to earn, or the hold that pauses it and where
to read how to lift it.
"""

import uuid
from dataclasses import dataclass
from typing import cast

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError, Refused
from loyalty.members.models import Member
from loyalty.points.selectors import points_balance
from loyalty.scoring.selectors import Standing, standing_of
from perks.billing.errors import MerchantBillingPaused
from perks.catalog.eligibility import perk_refusal
from perks.catalog.errors import MemberNotEligible, MemberOnHold
from perks.catalog.models import Perk
from perks.catalog.selectors import perks_live
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from perks.vouchers.qr import CONTENT_TYPES, QrKind, qr_image
from perks.vouchers.selectors import vouchers_of_member
from perks.vouchers.services import voucher_claim
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.forms import ClaimForm

PAGE_SIZE = 20


@dataclass(frozen=True)
class Offer:
    perk: Perk
    can_claim: bool
    why_not: str
    points_short: int
    on_hold: bool


@require_GET
@member_required
def perks(request: MemberRequest) -> HttpResponse:
    member = request.member
    standing = standing_of(member=member)
    balance = points_balance(member=member)
    page = Paginator(perks_live().order_by("merchant__name", "title", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "app/perks.html",
        {
            "page": page,
            "offers": [_offer(perk, member, standing, balance) for perk in page],
            "tier_name": standing.tier.name_in(member.locale),
            "balance": balance,
            # One key a page view: a double tap on "claim" claims once.
            "claim_key": uuid.uuid4().hex,
        },
    )


@require_POST
@member_required
def perk_claim(request: MemberRequest, ref: str) -> HttpResponse:
    perk = perks_live().filter(ref=ref).first()
    form = ClaimForm(request.POST)
    if perk is None:
        raise Http404(_("This perk is no longer on offer."))
    if not form.is_valid():
        messages.error(request, _("That claim could not be read; please try again."))
        return redirect("app:perks")
    try:
        voucher = voucher_claim(
            perk=perk,
            member=request.member,
            idempotency_key=f"app:{request.member.pk}:{form.cleaned_data['claim_key']}",
        )
    except MerchantBillingPaused:
        messages.error(
            request,
            _("%(merchant)s is not giving out new vouchers right now; please try again later.")
            % {"merchant": perk.merchant.name},
        )
        return redirect("app:perks")
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("app:perks")
    messages.success(request, _("%(perk)s is in your wallet.") % {"perk": perk.title})
    return redirect("app:voucher", voucher_id=voucher.pk)


@require_GET
@member_required
def wallet(request: MemberRequest) -> HttpResponse:
    show_past = request.GET.get("show") == "past"
    vouchers = vouchers_of_member(member=request.member).select_related("perk", "merchant")
    now = timezone.now()
    usable = vouchers.filter(status=VoucherStatus.ISSUED, expires_at__gt=now)
    shown = vouchers.exclude(pk__in=usable.values("pk")) if show_past else usable
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "app/wallet.html", {"page": page, "show_past": show_past})


# A voucher's page and image carry its code: named by id in the URL (so no access log
# holds the code) and kept by no cache on the way or in the browser.
@never_cache
@require_GET
@member_required
def voucher(request: MemberRequest, voucher_id: int) -> HttpResponse:
    held = _own_voucher(request.member, voucher_id)
    return render(
        request,
        "app/voucher.html",
        {
            "voucher": held,
            "code": code_format(held.code),
            "usable": held.status == VoucherStatus.ISSUED and held.expires_at > timezone.now(),
        },
    )


@never_cache
@require_GET
@member_required
def voucher_qr(request: MemberRequest, voucher_id: int, kind: str) -> HttpResponse:
    if kind not in CONTENT_TYPES:
        raise Http404
    held = _own_voucher(request.member, voucher_id)
    image = qr_image(code=held.code, kind=cast(QrKind, kind))
    with default_storage.open(image.name, "rb") as stored:
        return HttpResponse(stored.read(), content_type=image.content_type)


def _own_voucher(member: Member, voucher_id: int) -> Voucher:
    """One of the member's own vouchers; anyone else's is as unknown as no voucher at all."""
    held = vouchers_of_member(member=member).select_related("perk", "merchant").filter(pk=voucher_id).first()
    if held is None:
        raise Http404
    return held


def _offer(perk: Perk, member: Member, standing: Standing, balance: int) -> Offer:
    refusal = perk_refusal(perk=perk, member=member, standing=standing)
    points_short = max(0, perk.points_cost - balance)
    return Offer(
        perk=perk,
        can_claim=refusal is None and points_short == 0,
        why_not=_why_not(perk, refusal, member.locale),
        points_short=points_short,
        on_hold=isinstance(refusal, MemberOnHold),
    )


def _why_not(perk: Perk, refusal: Refused | None, locale: str) -> str:
    if refusal is None:
        return ""
    if isinstance(refusal, MemberNotEligible):
        if perk.min_tier is not None:
            return _("Unlocks at %(tier)s.") % {"tier": perk.min_tier.name_in(locale)}
        return _("Unlocks at a score of %(score)s.") % {"score": perk.min_score}
    if isinstance(refusal, MemberOnHold):
        return _("Paused by a hold %(merchant)s placed; see Holds for how to lift it.") % {
            "merchant": perk.merchant.name
        }
    return refusal.message
