"""The points services: the only code that writes to the ledger."""

from loyalty.points.services.accounts import merchant_account_for, platform_account, wallet_for_member
from loyalty.points.services.earn import EarnResult, Purchase, points_earn_purchases
from loyalty.points.services.expiry import ExpiryResult, points_expire_due
from loyalty.points.services.ledger import (
    points_adjust,
    points_post,
    points_spend,
    points_transaction_reverse,
)

__all__ = [
    "EarnResult",
    "ExpiryResult",
    "Purchase",
    "merchant_account_for",
    "platform_account",
    "points_adjust",
    "points_earn_purchases",
    "points_expire_due",
    "points_post",
    "points_spend",
    "points_transaction_reverse",
    "wallet_for_member",
]
