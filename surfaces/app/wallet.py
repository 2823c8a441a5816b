"""The member's perks and voucher wallet: what they can have now, and when they cannot,
why and what would change it; the vouchers they hold, each with its QR code to show.

A perk out of reach is explained, never hidden and never blamed on the member: the tier
or score that unlocks it, the hold that pauses it (until when, and where to read how to
lift it), the points still to earn. The reasons come from the one eligibility check
(perks.catalog.eligibility); this module only puts them into words.

A claim is confirmed on a page of its own that says what it costs, so it works without
JavaScript and a stray tap on a card claims nothing.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from loyalty.core.errors import DomainError, Refused
from loyalty.members.models import Member
from loyalty.points.selectors import points_balance
from loyalty.scoring.selectors import Standing, hold_held_until, standing_of
from perks.billing.errors import MerchantBillingPaused
from perks.catalog.eligibility import perk_refusal
from perks.catalog.errors import MemberNotEligible, MemberOnHold
from perks.catalog.models import Perk
from perks.catalog.selectors import perks_live
from perks.catalog.wording import perk_benefit, perk_description, perk_title
from perks.merchants.images import image_url
from perks.merchants.models import Merchant
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from perks.vouchers.qr import CONTENT_TYPES, QrKind, qr_image
from perks.vouchers.selectors import vouchers_of_member
from perks.vouchers.services import voucher_claim
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.forms import ClaimForm
from surfaces.app.templatetags.app_format import day as day_format
from surfaces.app.templatetags.app_format import points as points_format

PAGE_SIZE = 20
# The widths the app shows images at, in CSS pixels, times the density of most phones'
# screens; images.image_url picks the smallest rendition that covers it.
PERK_IMAGE_WIDTH = 640
LOGO_WIDTH = 128


@dataclass(frozen=True)
class Missing:
    """One thing between the member and a perk, in words, and where to act on it."""

    text: str
    url: str = ""
    action: str = ""


@dataclass(frozen=True)
class Offer:
    perk: Perk
    title: str
    description: str
    benefit: str
    image_url: str
    logo_url: str
    missing: list[Missing] = field(default_factory=list)
    points_short: int = 0
    on_hold: bool = False

    @property
    def can_claim(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class HeldVoucher:
    voucher: Voucher
    title: str
    logo_url: str


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
        },
    )


@require_http_methods(["GET", "POST"])
@member_required
def perk_claim(request: MemberRequest, ref: str) -> HttpResponse:
    """GET asks "claim this for N points?"; the POST of that page claims."""
    perk = perks_live().filter(ref=ref).first()
    if perk is None:
        raise Http404(_("This perk is no longer on offer."))
    if request.method == "POST":
        return _claim(request, perk)
    member = request.member
    balance = points_balance(member=member)
    return render(
        request,
        "app/perk_claim.html",
        {
            "offer": _offer(perk, member, standing_of(member=member), balance),
            "balance": balance,
            "balance_after": balance - perk.points_cost,
            # One key a confirmation page: a double tap on "claim" claims once.
            "claim_key": uuid.uuid4().hex,
        },
    )


def _claim(request: MemberRequest, perk: Perk) -> HttpResponse:
    form = ClaimForm(request.POST)
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
    messages.success(request, _("%(perk)s is in your wallet.") % {"perk": perk_title(perk)})
    return redirect("app:voucher", voucher_id=voucher.pk)


@require_GET
@member_required
def wallet(request: MemberRequest) -> HttpResponse:
    show_past = request.GET.get("show") == "past"
    vouchers = vouchers_of_member(member=request.member)
    now = timezone.now()
    usable = vouchers.filter(status=VoucherStatus.ISSUED, expires_at__gt=now)
    shown = vouchers.exclude(pk__in=usable.values("pk")) if show_past else usable
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "app/wallet.html",
        {"page": page, "held": [_held(voucher) for voucher in page], "show_past": show_past},
    )


# A voucher's page and image carry its code: named by id in the URL (so no access log
# holds the code) and kept by no HTTP cache on the way or in the browser. The app's
# service worker keeps its own copy for offline use, and drops it at sign-out.
@never_cache
@require_GET
@member_required
def voucher(request: MemberRequest, voucher_id: int) -> HttpResponse:
    held = _own_voucher(request.member, voucher_id)
    return render(
        request,
        "app/voucher.html",
        {
            "held": _held(held),
            "voucher": held,
            "benefit": perk_benefit(held.perk),
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
    held = vouchers_of_member(member=member).filter(pk=voucher_id).first()
    if held is None:
        raise Http404
    return held


def _held(voucher: Voucher) -> HeldVoucher:
    return HeldVoucher(voucher=voucher, title=perk_title(voucher.perk), logo_url=_logo_url(voucher.merchant))


def _image(file: FieldFile, *, kind: str, width: int) -> str:
    return image_url(file.name, kind=kind, size=width) if file.name else ""


def _logo_url(merchant: Merchant) -> str:
    return _image(merchant.logo, kind="logo", width=LOGO_WIDTH)


def _offer(perk: Perk, member: Member, standing: Standing, balance: int) -> Offer:
    refusal = perk_refusal(perk=perk, member=member, standing=standing)
    points_short = max(0, perk.points_cost - balance)
    missing = _missing(perk, refusal, member, standing)
    if points_short:
        missing.append(
            Missing(
                ngettext(
                    "%(points)s more point to claim this.",
                    "%(points)s more points to claim this.",
                    points_short,
                )
                % {"points": points_format(points_short)},
                reverse("app:points"),
                _("Your points"),
            )
        )
    return Offer(
        perk=perk,
        title=perk_title(perk),
        description=perk_description(perk),
        benefit=perk_benefit(perk),
        image_url=_image(perk.image, kind="perk", width=PERK_IMAGE_WIDTH),
        logo_url=_logo_url(perk.merchant),
        missing=missing,
        points_short=points_short,
        on_hold=isinstance(refusal, MemberOnHold),
    )


def _missing(perk: Perk, refusal: Refused | None, member: Member, standing: Standing) -> list[Missing]:
    """What the eligibility check refused, said as what the member lacks and what to do."""
    if refusal is None:
        return []
    if isinstance(refusal, MemberNotEligible):
        return [
            Missing(
                _standing_missing(perk, member, standing), reverse("app:home"), _("How to raise your score")
            )
        ]
    if isinstance(refusal, MemberOnHold):
        return [Missing(_hold_missing(perk, member), reverse("app:holds"), _("How to lift it"))]
    return [Missing(refusal.message)]


def _standing_missing(perk: Perk, member: Member, standing: Standing) -> str:
    if perk.min_tier is not None:
        tier = perk.min_tier.name_in(member.locale)
        gap = perk.min_tier.min_score - standing.score
        if gap <= 0:
            return _("Unlocks at %(tier)s.") % {"tier": tier}
        return ngettext(
            "Reach %(tier)s: your score needs %(gap)s more point.",
            "Reach %(tier)s: your score needs %(gap)s more points.",
            gap,
        ) % {"tier": tier, "gap": points_format(gap)}
    return _("Needs a score of %(needed)s; yours is %(score)s.") % {
        "needed": points_format(perk.min_score or 0),
        "score": points_format(standing.score),
    }


def _hold_missing(perk: Perk, member: Member) -> str:
    """Until when the merchant's hold keeps the perk, read as eligibility read it."""
    now = timezone.now()
    held_until = hold_held_until(member=member, merchant_ref=perk.merchant.ref, category=perk.type, at=now)
    merchant = perk.merchant.name
    if held_until is None:
        return _("Paused by a hold %(merchant)s placed.") % {"merchant": merchant}
    if held_until > now:
        return _("On hold until %(date)s, by a hold %(merchant)s placed.") % {
            "date": day_format(held_until),
            "merchant": merchant,
        }
    days = perk.hold_free_days or 0
    return ngettext(
        "Claimable from %(date)s: it needs %(days)s day without a hold from %(merchant)s.",
        "Claimable from %(date)s: it needs %(days)s days without a hold from %(merchant)s.",
        days,
    ) % {"date": day_format(held_until + timedelta(days=days)), "days": days, "merchant": merchant}
