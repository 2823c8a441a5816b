"""Reading the ledger: balances, statements a member can read, points about to expire."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Sum

from loyalty.core.errors import Invalid
from loyalty.members.models import Member
from loyalty.points.models import Account, AccountKind, PointsLot, Posting, TransactionKind
from loyalty.points.reasons import reason_text

STATEMENT_LIMIT_MAX = 100


@dataclass(frozen=True)
class StatementLine:
    id: int  # the posting's id: pass it as `starting_after` for the next page
    transaction_id: int
    kind: TransactionKind
    occurred_at: datetime
    points: int
    balance_after: int
    text: str


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    has_more: bool


@dataclass(frozen=True)
class ExpiringPoints:
    points: int
    expires_on: date
    earned_on: date


def _wallet(member: Member) -> Account | None:
    return Account.objects.filter(kind=AccountKind.MEMBER, member=member).first()


def points_balance(*, member: Member) -> int:
    wallet = _wallet(member)
    return wallet.balance if wallet else 0


def points_statement(
    *, member: Member, limit: int = 20, starting_after: int | None = None, locale: str | None = None
) -> StatementPage:
    """The member's wallet lines, newest first, each with a reason in the member's language."""
    if not 1 <= limit <= STATEMENT_LIMIT_MAX:
        raise Invalid(f"limit must be between 1 and {STATEMENT_LIMIT_MAX}.", param="limit")
    wallet = _wallet(member)
    if wallet is None:
        if starting_after is not None:
            raise Invalid("No such statement line.", param="starting_after")
        return StatementPage(lines=[], has_more=False)
    postings = Posting.objects.filter(account=wallet).select_related("transaction").order_by("-pk")
    if starting_after is not None:
        if not postings.filter(pk=starting_after).exists():
            raise Invalid("No such statement line.", param="starting_after")
        postings = postings.filter(pk__lt=starting_after)
    page = list(postings[: limit + 1])
    # The balance after the newest line shown: today's, less what came after it.
    newest = page[0].pk if page else 0
    later = Posting.objects.filter(account=wallet, pk__gt=newest).aggregate(total=Sum("amount"))["total"] or 0
    balance = wallet.balance - later
    lines = []
    for posting in page[:limit]:
        tx = posting.transaction
        lines.append(
            StatementLine(
                id=posting.pk,
                transaction_id=tx.pk,
                kind=TransactionKind(tx.kind),
                occurred_at=tx.occurred_at,
                points=posting.amount,
                balance_after=balance,
                text=reason_text(tx.reason_code, tx.reason_params, locale=locale or member.locale),
            )
        )
        balance -= posting.amount
    return StatementPage(lines=lines, has_more=len(page) > limit)


def points_lots_expiring(
    *, member: Member, today: date, within_days: int | None = None
) -> list[ExpiringPoints]:
    """Points that expire after `today` and within the notice period (or `within_days`), soonest first."""
    days = settings.POINTS_EXPIRY_NOTICE_DAYS if within_days is None else within_days
    lots = PointsLot.objects.filter(
        account__member=member,
        remaining__gt=0,
        expires_on__gt=today,
        expires_on__lte=today + timedelta(days=days),
    ).order_by("expires_on", "earned_on")
    return [
        ExpiringPoints(points=lot.remaining, expires_on=lot.expires_on, earned_on=lot.earned_on)
        for lot in lots
    ]
