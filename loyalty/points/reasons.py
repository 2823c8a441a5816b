"""Reason texts a member can read, rendered from a transaction's reason code and params.

The ledger stores the code and the plain values, never a sentence, so a statement reads in
the member's own language and a wording can be improved without rewriting history.
"""

from collections.abc import Mapping
from typing import Any

from loyalty.core.errors import Invalid
from loyalty.members.models import Locale

REVERSAL = "reversal"

TEMPLATES: dict[str, dict[str, str]] = {
    "purchase": {
        Locale.ENGLISH: "Purchase at {merchant_name}, {amount} {currency}",
        Locale.SIMPLIFIED_CHINESE: "在{merchant_name}消费，{amount} {currency}",
    },
    "perk_claim": {
        Locale.ENGLISH: "{perk_title}",
        Locale.SIMPLIFIED_CHINESE: "{perk_title}",
    },
    "expiry": {
        Locale.ENGLISH: "Expired: earned {earned_on}",
        Locale.SIMPLIFIED_CHINESE: "已过期：{earned_on} 获得",
    },
    "expiry_span": {
        Locale.ENGLISH: "Expired: earned {earned_on} to {earned_until}",
        Locale.SIMPLIFIED_CHINESE: "已过期：{earned_on} 至 {earned_until} 获得",
    },
    "erasure": {
        Locale.ENGLISH: "Left with the erased account",
        Locale.SIMPLIFIED_CHINESE: "随已删除的账户失效",
    },
    "adjustment": {
        Locale.ENGLISH: "Adjustment: {note}",
        Locale.SIMPLIFIED_CHINESE: "调整：{note}",
    },
    REVERSAL: {
        Locale.ENGLISH: "Reversed: {original}",
        Locale.SIMPLIFIED_CHINESE: "已撤销：{original}",
    },
}


def reversal_params(*, original_code: str, original_params: Mapping[str, Any], note: str) -> dict[str, Any]:
    return {"original_code": original_code, "original_params": dict(original_params), "note": note}


def reason_text(code: str, params: Mapping[str, Any], *, locale: str = Locale.ENGLISH) -> str:
    templates = TEMPLATES.get(code)
    if templates is None:
        return code
    template = templates.get(locale, templates[Locale.ENGLISH])
    if code == REVERSAL:
        original = reason_text(params["original_code"], params["original_params"], locale=locale)
        return template.format(original=original)
    return template.format(**params)


def reason_validate(code: str, params: Mapping[str, Any]) -> None:
    """Refuse a reason no statement could show: an unknown code or a missing value."""
    if code not in TEMPLATES:
        raise Invalid(f"Unknown reason code {code!r}.", param="reason_code")
    try:
        reason_text(code, params)
    except (KeyError, IndexError, TypeError) as exc:
        raise Invalid(f"The reason {code!r} needs the value {exc}.", param="reason_params") from exc
