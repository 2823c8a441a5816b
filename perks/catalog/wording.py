"""A perk in the member's words and language: its title, description and benefit.

The app shows these; the API and the portal store both languages of the title and the
description. The active language decides; a text missing in it falls back to the other.

Money reads as members see it on a price tag: the symbol of the currencies the platform
deals in (CNY as ¥, the way it is written where Perkline runs, so the yen is JP¥), else the
ISO code; grouped in thousands, and without minor units when the amount is whole.
"""

from decimal import Decimal

from django.conf import settings
from django.utils import formats
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from loyalty.core.errors import Invalid
from perks.catalog.models import Perk
from perks.catalog.money import money_text
from perks.catalog.params import (
    AccessKind,
    AccessPassParams,
    DepositWaiverParams,
    DiscountParams,
    FreeItemParams,
    FxMarginParams,
    params_parse,
)

BPS_PER_PERCENT = 100


def perk_title(perk: Perk) -> str:
    """The perk's title in the active language, else the one it has."""
    return in_active_language(perk.title, perk.title_zh)


def perk_description(perk: Perk) -> str:
    """The perk's description in the active language, else the one it has."""
    return in_active_language(perk.description, perk.description_zh)


def in_active_language(english: str, chinese: str) -> str:
    """Of a text kept in English and in Chinese, the one the active language reads; the
    other when that one is empty. Also for copies kept elsewhere (a notification's)."""
    if _reads_chinese():
        return chinese or english
    return english or chinese


def _reads_chinese() -> bool:
    return (get_language() or settings.LANGUAGE_CODE).lower().startswith("zh")


def perk_benefit(perk: Perk) -> str:
    """What the perk gives, in everyday words ("0.5 % better exchange rate")."""
    try:
        params = params_parse(perk.type, perk.params)
    except Invalid:
        # Parameters stored before a rule tightened: the kind of perk still says something true.
        return str(perk.get_type_display())
    if isinstance(params, DepositWaiverParams):
        # Translators: amount is money with its symbol, such as ¥5,000.
        return _("No deposit up to %(amount)s") % {"amount": _price(params.max_amount, params.currency)}
    if isinstance(params, FxMarginParams):
        return _fx_margin(params)
    if isinstance(params, AccessPassParams):
        return _access_pass(params)
    if isinstance(params, FreeItemParams):
        return _free_item(params)
    return _discount(params)


def _price(amount: Decimal, currency: str) -> str:
    """A price in a sentence: a whole amount without its decimals ("up to ¥5,000")."""
    return money_text(amount, currency, whole_without_decimals=True)


def percent_text(percent: Decimal) -> str:
    """A percentage's number with the decimals it has and no trailing zeros: "0.5", "15"."""
    exponent = percent.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return formats.number_format(percent, decimal_pos=places, force_grouping=True)


def _fx_margin(params: FxMarginParams) -> str:
    percent = percent_text(Decimal(params.margin_reduction_bps) / BPS_PER_PERCENT)
    if params.currencies:
        # Translators: percent is a number such as 0.5 (%% is the percent sign); currencies
        # are ISO codes, such as "EUR, USD".
        return _("%(percent)s %% better exchange rate on %(currencies)s") % {
            "percent": percent,
            "currencies": ", ".join(params.currencies),
        }
    return _("%(percent)s %% better exchange rate") % {"percent": percent}


def _access_pass(params: AccessPassParams) -> str:
    values = {"count": params.entries_per_voucher, "venue": params.venue}
    count = params.entries_per_voucher
    if params.kind == AccessKind.LOUNGE:
        text = ngettext("%(count)s lounge visit at %(venue)s", "%(count)s lounge visits at %(venue)s", count)
    elif params.kind == AccessKind.WAITING_ROOM:
        text = ngettext(
            "%(count)s waiting room entry at %(venue)s", "%(count)s waiting room entries at %(venue)s", count
        )
    else:
        text = ngettext(
            "%(count)s fast-track entry at %(venue)s", "%(count)s fast-track entries at %(venue)s", count
        )
    return text % values


def _free_item(params: FreeItemParams) -> str:
    if params.max_value is not None and params.currency:
        # Translators: item is the merchant's own name for it, as they wrote it ("Flat white").
        return _("Free: %(item)s, worth up to %(amount)s") % {
            "item": params.item,
            "amount": _price(params.max_value, params.currency),
        }
    return _("Free: %(item)s") % {"item": params.item}


def _discount(params: DiscountParams) -> str:
    def money(amount: Decimal | None) -> str:
        # An amount of a discount always comes with its currency (params.py requires it).
        return "" if amount is None else _price(amount, params.currency or "")

    values = {
        "percent": "" if params.percent is None else percent_text(params.percent),
        "amount": money(params.amount_off),
        "min_spend": money(params.min_spend),
        "cap": money(params.max_discount),
    }
    if params.amount_off is not None:
        if params.min_spend is not None:
            return _("%(amount)s off when you spend %(min_spend)s or more") % values
        return _("%(amount)s off") % values
    if params.max_discount is not None and params.min_spend is not None:
        return _("%(percent)s %% off when you spend %(min_spend)s or more, up to %(cap)s off") % values
    if params.max_discount is not None:
        return _("%(percent)s %% off, up to %(cap)s off") % values
    if params.min_spend is not None:
        return _("%(percent)s %% off when you spend %(min_spend)s or more") % values
    return _("%(percent)s %% off") % values
