"""Billing in the portal: the month's usage and the fees so far, the invoices with their
status, and the card the invoices are charged to, which owners and managers change here
with Stripe.js (static/js/card.js): the page asks for a SetupIntent (`billing_card_setup`),
Stripe.js saves the card on it, and the page hands it back (`billing_card_save`), which
subscribes the merchant if it was not yet and pays what is open, lifting a pause.

Who may is the permission table's `billing.view`: cashiers get a 403.
"""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.core.errors import DomainError
from loyalty.core.headers import csp_allow
from perks.billing.errors import PaymentProviderUnavailable
from perks.billing.models import Invoice
from perks.billing.selectors import billing_profile_of, billing_usage_of, invoices_of_merchant
from perks.billing.services import Card, billing_card_on_file, billing_card_save, billing_card_setup
from perks.billing.stripe_client import stripe_browser, stripe_csp_sources
from perks.catalog.money import quantize
from perks.merchants.permissions import Permission
from surfaces.portal.access import StaffRequest, portal_page
from surfaces.portal.pages import page_of


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    amount_due: str
    amount_paid: str


class CardSaveForm(forms.Form):
    setup_intent = forms.RegexField(regex=r"^seti_\w{1,200}$")


@csp_allow(stripe_csp_sources)
@never_cache
@require_GET
@portal_page(permission=Permission.BILLING_VIEW)
def billing(request: StaffRequest) -> HttpResponse:
    profile = billing_profile_of(merchant=request.merchant)
    card: Card | None = None
    card_unavailable = False
    try:
        card = billing_card_on_file(merchant=request.merchant, actor=request.user)
    except PaymentProviderUnavailable:
        card_unavailable = True
    invoices = page_of(request, invoices_of_merchant(merchant=request.merchant))
    return render(
        request,
        "portal/billing.html",
        {
            "profile": profile,
            "usage": billing_usage_of(profile=profile) if profile else None,
            "invoices": invoices,
            "rows": [_row(invoice) for invoice in invoices],
            "card": card,
            "card_unavailable": card_unavailable,
            "stripe": stripe_browser() if profile else None,
        },
    )


@require_POST
@portal_page(permission=Permission.BILLING_VIEW)
def card_setup(request: StaffRequest) -> JsonResponse:
    """A new SetupIntent's secret, for the card form to save a card on."""
    try:
        secret = billing_card_setup(merchant=request.merchant, actor=request.user)
    except DomainError as refused:
        return _refusal(refused)
    return JsonResponse({"client_secret": secret})


@require_POST
@portal_page(permission=Permission.BILLING_VIEW)
def card_save(request: StaffRequest) -> JsonResponse:
    """The card the form saved becomes the one invoices are charged to."""
    form = CardSaveForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": _("The card form sent nothing to save; please try again.")}, status=400)
    try:
        billing_card_save(
            merchant=request.merchant, actor=request.user, setup_intent_id=form.cleaned_data["setup_intent"]
        )
    except DomainError as refused:
        return _refusal(refused)
    messages.success(request, _("The card is saved: your invoices are charged to it from now on."))
    return JsonResponse({"status": "saved"})


def _refusal(refused: DomainError) -> JsonResponse:
    status = 503 if isinstance(refused, PaymentProviderUnavailable) else 422
    return JsonResponse({"error": refused.message}, status=status)


def _row(invoice: Invoice) -> InvoiceRow:
    return InvoiceRow(
        invoice=invoice,
        amount_due=str(quantize(invoice.amount_due, invoice.currency)),
        amount_paid=str(quantize(invoice.amount_paid, invoice.currency)),
    )
