"""The member's deposits: what each merchant asked, and whether it was waived (by which
perk), held, released or captured; a deposit still waiting on the member completed here;
and the cards saved for deposits, which the member can remove.

Completing one is the card form of Stripe.js (static/js/card.js, loaded from the Stripe
the server talks to): it saves the card with the deposit's SetupIntent, then asks the
server to look again (`deposit_refresh`), which holds the deposit on the card; a card that
wants 3-D Secure is confirmed with `confirmCardPayment` and the server looks once more.
Adding a card (the card form and its SetupIntent's secret) and removing one need the
member's password given in the last few minutes (loyalty/core/reauth.py).
"""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.headers import csp_allow
from loyalty.core.reauth import password_recently_confirmed
from perks.billing.errors import PaymentProviderUnavailable
from perks.billing.models import Deposit, DepositStatus
from perks.billing.selectors import deposit_of_member, deposits_of_member
from perks.billing.services import (
    MerchantCards,
    deposit_refresh,
    deposits_refresh,
    member_card_remove,
    member_cards,
)
from perks.billing.stripe_client import stripe_browser, stripe_csp_sources
from perks.catalog.money import quantize
from surfaces.app.access import MemberRequest, member_required
from surfaces.app.account import password_required

PAGE_SIZE = 20
PENDING = (DepositStatus.REQUIRES_PAYMENT_METHOD, DepositStatus.REQUIRES_ACTION)


@dataclass(frozen=True)
class DepositRow:
    deposit: Deposit
    amount: str
    captured: str


class CardRemoveForm(forms.Form):
    account = forms.RegexField(regex=r"^acct_\w{1,200}$")
    card = forms.RegexField(regex=r"^\w{1,255}$")


@csp_allow(stripe_csp_sources)
@never_cache
@require_GET
@member_required
def deposits(request: MemberRequest) -> HttpResponse:
    """The member's deposits, those waiting on them re-checked with Stripe, and their cards."""
    page = Paginator(deposits_of_member(member=request.member), PAGE_SIZE).get_page(request.GET.get("page"))
    cards: list[MerchantCards] = []
    cards_unavailable = False
    try:
        cards = member_cards(member=request.member)
    except PaymentProviderUnavailable:
        cards_unavailable = True
    return render(
        request,
        "app/deposits.html",
        {
            "page": page,
            "rows": [_row(deposit) for deposit in deposits_refresh(deposits=page)],
            "pending": PENDING,
            "cards": cards,
            "cards_unavailable": cards_unavailable,
            "stripe": stripe_browser(),
            "password_confirmed": password_recently_confirmed(request),
        },
    )


@require_POST
@member_required
def deposit_complete(request: MemberRequest, ref: str) -> JsonResponse:
    """Called by the card form once Stripe.js is done: the deposit as Stripe has it now,
    and, while it still waits on the member, the secret to go on with."""
    try:
        deposit = deposit_refresh(deposit=deposit_of_member(member=request.member, ref=ref))
    except NotFound:
        raise Http404 from None
    except PaymentProviderUnavailable as unavailable:
        return JsonResponse({"error": unavailable.message}, status=503)
    answer = {"status": deposit.status, "label": str(deposit.get_status_display())}
    if deposit.status in PENDING and _may_use_card(request, deposit):
        answer["client_secret"] = deposit.client_secret
    if deposit.status == DepositStatus.REQUIRES_PAYMENT_METHOD:
        answer["message"] = _("This card could not hold the deposit. Try another card.")
    return JsonResponse(answer)


@require_POST
@member_required
@password_required
def card_remove(request: MemberRequest) -> HttpResponse:
    form = CardRemoveForm(request.POST)
    if not form.is_valid():
        raise Http404
    try:
        data = form.cleaned_data
        card = member_card_remove(member=request.member, stripe_account=data["account"], card_id=data["card"])
    except NotFound:
        raise Http404 from None
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request,
            _("The card ending in %(last4)s is removed: no deposit will be held on it again.")
            % {"last4": card.last4},
        )
    return redirect("app:deposits")


def _may_use_card(request: MemberRequest, deposit: Deposit) -> bool:
    """Adding a card (a SetupIntent's secret) needs the password given recently; confirming
    3-D Secure on a card already saved does not."""
    return deposit.status != DepositStatus.REQUIRES_PAYMENT_METHOD or password_recently_confirmed(request)


def _row(deposit: Deposit) -> DepositRow:
    captured = deposit.captured_amount
    return DepositRow(
        deposit=deposit,
        amount=str(quantize(deposit.amount, deposit.currency)),
        captured="" if captured is None else str(quantize(captured, deposit.currency)),
    )
