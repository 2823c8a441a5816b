"""Finding (and opening on first use) the accounts the ledger posts to."""

import calendar
from datetime import date

from django.conf import settings

from loyalty.core.errors import Invalid
from loyalty.points.models import MERCHANT_REF_MAX_LENGTH, Account, AccountKind, PlatformAccount


def wallet_for_member(*, member_id: int) -> Account:
    account, _ = Account.objects.get_or_create(kind=AccountKind.MEMBER, member_id=member_id)
    return account


def merchant_account_for(*, merchant_ref: str) -> Account:
    if not merchant_ref or len(merchant_ref) > MERCHANT_REF_MAX_LENGTH:
        raise Invalid("A merchant ref is required.", param="merchant_ref")
    account, _ = Account.objects.get_or_create(kind=AccountKind.MERCHANT, merchant_ref=merchant_ref)
    return account


def platform_account(*, platform: PlatformAccount) -> Account:
    account, _ = Account.objects.get_or_create(kind=AccountKind.PLATFORM, platform=platform)
    return account


def lot_expiry(earned_on: date) -> date:
    """The day a lot earned on `earned_on` expires; a month end is kept (29 Feb → 28 Feb)."""
    months = earned_on.month - 1 + settings.POINTS_EXPIRY_MONTHS
    year, month = earned_on.year + months // 12, months % 12 + 1
    return earned_on.replace(
        year=year, month=month, day=min(earned_on.day, calendar.monthrange(year, month)[1])
    )
