"""Amounts are Decimal with an ISO 4217 currency, quantised to that currency's minor unit."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import formats
from iso4217 import Currency

from loyalty.core.errors import Invalid

# Beyond any deposit, spend or cap a perk deals in; keeps every quantisation exact.
MAX_AMOUNT = Decimal("1000000000")

# The symbol written before an amount, in both languages. Both write ¥ for the yuan, the
# currency the platform is run in; the others carry their country so none is taken for the
# yuan (or, in a Chinese text, the dollar for the US one). A currency not here is written by
# its code and a no-break space: "CHF 12.50".
CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "HKD": "HK$",
    "MOP": "MOP$",
    "TWD": "NT$",
    "USD": "US$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "JP¥",
    "KRW": "₩",
    "SGD": "S$",
}


def currency_code(value: object, *, param: str) -> str:
    """An ISO 4217 code that has a minor unit (real money, not gold or a test code)."""
    code = str(value or "").strip().upper()
    currency = Currency.__members__.get(code)
    if currency is None or currency.exponent is None:
        raise Invalid(f"{value!r} is not an ISO 4217 currency code such as CNY or USD.", param=param)
    return code


def decimals(currency: str) -> int:
    return Currency[currency].exponent or 0


def money_text(amount: Decimal, currency: str, *, whole_without_decimals: bool = False) -> str:
    """`amount` of `currency` as a price tag writes it in the active language, grouped in
    thousands and rounded to the currency's minor unit: "¥5,000.00", "-US$12.50",
    "CHF 3.00"; "¥5,000" where a whole amount goes without its decimals. Without a
    currency, the number alone with two decimals."""
    code = currency.strip().upper()
    known = Currency.__members__.get(code)
    places = (known.exponent or 0) if known is not None and known.exponent is not None else 2
    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if whole_without_decimals and amount == amount.to_integral_value():
        places = 0
    digits = formats.number_format(abs(amount), decimal_pos=places, force_grouping=True)
    sign = "-" if amount < 0 else ""
    if code in CURRENCY_SYMBOLS:
        return f"{sign}{CURRENCY_SYMBOLS[code]}{digits}"
    if code:
        # A no-break space: a code must never end a line without its amount.
        return f"{sign}{code}\N{NO-BREAK SPACE}{digits}"
    return f"{sign}{digits}"


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_HALF_UP)


def purchase_parse(amount: object, currency: object, *, at: str = "") -> tuple[Decimal | None, str | None]:
    """A purchase's amount and currency, each optional, though an amount needs its currency;
    `at` goes before the names of the params an error points at (`redemptions.3.`)."""
    code = currency_code(currency, param=f"{at}currency") if currency else None
    if amount is None:
        return None, code
    if code is None:
        raise Invalid("Give the currency of the amount.", param=f"{at}currency")
    return amount_parse(amount, currency=code, param=f"{at}amount"), code


def amount_parse(value: object, *, currency: str, param: str, positive: bool = False) -> Decimal:
    """An amount given as a string or an int (never a float), exact in `currency`'s minor unit."""
    if isinstance(value, (float, bool)):
        raise Invalid('Give amounts as decimal strings such as "120.00", never as floats.', param=param)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid(f"{value!r} is not an amount.", param=param) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise Invalid(f"An amount is between 0 and {MAX_AMOUNT:,}.", param=param)
    if positive and amount == 0:
        raise Invalid("The amount must be more than zero.", param=param)
    exact = quantize(amount, currency)
    if exact != amount:
        raise Invalid(f"{currency} amounts have at most {decimals(currency)} decimals.", param=param)
    return exact
