"""A member's erasure (loyalty/members/events.py `member_erased`): what is left in their
wallet leaves circulation the way unspent points do at expiry, into the platform's expiry
account, by one balanced transaction. The ledger keeps its history under the member's
pseudonymous ref, so every account still balances."""

from django.db.transaction import atomic

from loyalty.points.locks import accounts_lock
from loyalty.points.models import Account, AccountKind, PlatformAccount, PointsTransaction, TransactionKind
from loyalty.points.services.accounts import platform_account
from loyalty.points.services.ledger import Draft, post_draft

ERASURE_ACTOR = "system:erasure"
ERASURE_REASON = "erasure"


def points_erase(*, member_id: int) -> PointsTransaction | None:
    """Move the member's whole balance to the expiry account, oldest lots first; None when
    there is nothing to move (no wallet, or an empty one), so erasing again posts nothing."""
    with atomic():
        wallet = Account.objects.filter(kind=AccountKind.MEMBER, member_id=member_id).first()
        if wallet is None:
            return None
        expiry = platform_account(platform=PlatformAccount.EXPIRY)
        locked = accounts_lock([wallet.pk, expiry.pk])
        points = locked[wallet.pk].balance
        if points == 0:
            return None
        return post_draft(
            Draft(
                idempotency_key=f"erasure:{wallet.pk}",
                kind=TransactionKind.ERASE,
                entries=[(locked[wallet.pk], -points), (locked[expiry.pk], points)],
                reason_code=ERASURE_REASON,
                reason_params={},
                actor=ERASURE_ACTOR,
                request={"erase": wallet.pk, "points": points},
            )
        )
