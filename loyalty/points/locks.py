"""Row locks on the ledger: accounts are always locked in primary-key order.

Every change of a balance, and of the lots of a wallet, happens under these locks, so two
transactions touching the same accounts queue instead of deadlocking.
"""

from collections.abc import Iterable

from loyalty.points.models import Account


def accounts_lock(account_ids: Iterable[int]) -> dict[int, Account]:
    locked = Account.objects.select_for_update(no_key=True, of=("self",)).filter(pk__in=set(account_ids))
    return {account.pk: account for account in locked.order_by("pk")}
