"""Posting to the ledger: the primitive, spending, reversing and manual adjustments."""

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import F
from django.db.transaction import atomic
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.models import Member
from loyalty.points.errors import (
    AlreadyReversed,
    IdempotencyKeyReused,
    InsufficientPoints,
    NotReversible,
    UnbalancedPostings,
)
from loyalty.points.locks import accounts_lock
from loyalty.points.models import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    Account,
    AccountKind,
    EarnRule,
    LotMovement,
    PlatformAccount,
    PointsLot,
    PointsTransaction,
    Posting,
    TierMultiplier,
    TransactionKind,
)
from loyalty.points.reasons import REVERSAL, reason_validate, reversal_params
from loyalty.points.services.accounts import (
    lot_expiry,
    merchant_account_for,
    platform_account,
    wallet_for_member,
)

Entry = tuple[Account, int]


@dataclass
class Draft:
    """A transaction about to be posted, with how it moves the lots of member wallets.

    `lot_moves` names, per wallet, the lots a posting takes from (negative) or gives back to
    (positive). A wallet posting it does not cover takes from the oldest lots first, or,
    when it credits, adds to the lot of the day the transaction occurred.
    """

    idempotency_key: str
    kind: TransactionKind
    entries: list[Entry]
    reason_code: str
    reason_params: dict[str, Any]
    actor: str
    request: dict[str, Any]
    merchant_ref: str = ""
    reverses: PointsTransaction | None = None
    earn_rule: EarnRule | None = None
    tier_multiplier: TierMultiplier | None = None
    occurred_at: datetime | None = None
    lot_moves: dict[int, list[tuple[PointsLot, int]]] = field(default_factory=dict)


def request_digest(request: Mapping[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(draft: Draft) -> None:
    if not 0 < len(draft.idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise Invalid("An idempotency key of 1 to 255 characters is required.", param="idempotency_key")
    amounts = [amount for _, amount in draft.entries]
    if len(amounts) < 2 or any(type(a) is not int or a == 0 for a in amounts) or sum(amounts) != 0:
        raise UnbalancedPostings()
    if not draft.actor:
        raise Invalid("Say who caused the transaction.", param="actor")
    reason_validate(draft.reason_code, draft.reason_params)


def _replay(key: str, request_hash: str) -> PointsTransaction | None:
    existing = PointsTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyKeyReused(param="idempotency_key")
    return existing


def post_draft(draft: Draft) -> PointsTransaction:
    """Post `draft` once: a replay of its key returns the first transaction unchanged.

    The one writer of postings outside the bulk earn; the services of this package build
    the draft (its kind, lot moves, request digest) and call it.
    """
    _validate(draft)
    request_hash = request_digest(draft.request) if draft.request else ""
    with atomic():
        if (done := _replay(draft.idempotency_key, request_hash)) is not None:
            return done
        locked = accounts_lock(account.pk for account, _ in draft.entries)
        # A concurrent post of the same key held these locks; it has committed by now.
        if (done := _replay(draft.idempotency_key, request_hash)) is not None:
            return done
        deltas: dict[int, int] = defaultdict(int)
        for account, amount in draft.entries:
            deltas[account.pk] += amount
        for account_id, delta in deltas.items():
            wallet = locked[account_id]
            if wallet.kind == AccountKind.MEMBER and wallet.balance + delta < 0:
                raise InsufficientPoints(param="points")
        posted = _insert(draft, request_hash)
        for account_id, delta in deltas.items():
            if locked[account_id].kind == AccountKind.MEMBER:
                _move_lots(posted, locked[account_id], delta, draft.lot_moves.get(account_id))
            Account.objects.filter(pk=account_id).update(balance=F("balance") + delta)
    return posted


def _insert(draft: Draft, request_hash: str) -> PointsTransaction:
    now = timezone.now()
    try:
        with atomic():
            posted = PointsTransaction.objects.create(
                idempotency_key=draft.idempotency_key,
                kind=draft.kind,
                reason_code=draft.reason_code,
                reason_params=draft.reason_params,
                actor=draft.actor,
                merchant_ref=draft.merchant_ref,
                reverses=draft.reverses,
                earn_rule=draft.earn_rule,
                tier_multiplier=draft.tier_multiplier,
                request_hash=request_hash,
                occurred_at=draft.occurred_at or now,
                created_at=now,
            )
    except IntegrityError:
        # Two reversals of one transaction that touch different accounts can meet only here.
        if draft.reverses is not None and PointsTransaction.objects.filter(reverses=draft.reverses).exists():
            raise AlreadyReversed() from None
        raise
    Posting.objects.bulk_create(
        Posting(transaction=posted, account=account, amount=amount) for account, amount in draft.entries
    )
    return posted


def _move_lots(
    posted: PointsTransaction, wallet: Account, delta: int, moves: list[tuple[PointsLot, int]] | None
) -> None:
    if moves is None:
        if delta > 0:
            _lot_credit(wallet, timezone.localdate(posted.occurred_at), delta)
            return
        moves = _oldest_first(wallet, -delta)
    if sum(points for _, points in moves) != delta:
        raise UnbalancedPostings("The lots moved do not match the wallet's posting.")
    for lot, points in moves:
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") + points)
    LotMovement.objects.bulk_create(LotMovement(transaction=posted, lot=lot, points=p) for lot, p in moves)


def _lot_credit(wallet: Account, earned_on: Any, points: int) -> None:
    updated = PointsLot.objects.filter(account=wallet, earned_on=earned_on).update(
        points=F("points") + points, remaining=F("remaining") + points
    )
    if not updated:
        PointsLot.objects.create(
            account=wallet,
            earned_on=earned_on,
            expires_on=lot_expiry(earned_on),
            points=points,
            remaining=points,
        )


def _oldest_first(wallet: Account, points: int) -> list[tuple[PointsLot, int]]:
    moves: list[tuple[PointsLot, int]] = []
    wanted = points
    open_lots = PointsLot.objects.filter(account=wallet, remaining__gt=0).order_by(
        "expires_on", "earned_on", "pk"
    )
    for lot in open_lots:
        take = min(lot.remaining, wanted)
        moves.append((lot, -take))
        wanted -= take
        if wanted == 0:
            return moves
    raise InsufficientPoints(param="points")


def points_post(
    *,
    idempotency_key: str,
    postings: Sequence[Entry],
    reason_code: str,
    reason_params: Mapping[str, Any],
    actor: str,
    reverses: PointsTransaction | None = None,
) -> PointsTransaction:
    """Post two or more postings that sum to zero, once per idempotency key.

    A replay of the key with the same postings and reason returns the first transaction and
    changes nothing; the same key with anything else raises `IdempotencyKeyReused`.
    """
    entries = list(postings)
    draft = Draft(
        idempotency_key=idempotency_key,
        kind=TransactionKind.REVERSE if reverses is not None else TransactionKind.ADJUST,
        entries=entries,
        reason_code=reason_code,
        reason_params=dict(reason_params),
        actor=actor,
        reverses=reverses,
        request={
            "postings": sorted([account.pk, amount] for account, amount in entries),
            "reason_code": reason_code,
            "reason_params": dict(reason_params),
            "reverses": reverses.pk if reverses else None,
        },
    )
    return post_draft(draft)


def points_adjust(
    *, member: Member, points: int, note: str, idempotency_key: str, actor: str
) -> PointsTransaction:
    """An operator's correction of a wallet: a balanced transaction against platform issuance."""
    if not note.strip():
        raise Invalid("Say why the points are adjusted.", param="note")
    with atomic():
        wallet = wallet_for_member(member_id=member.pk)
        issuance = platform_account(platform=PlatformAccount.ISSUANCE)
        return points_post(
            idempotency_key=idempotency_key,
            postings=[(wallet, points), (issuance, -points)],
            reason_code="adjustment",
            reason_params={"note": note.strip()},
            actor=actor,
        )


def points_spend(
    *,
    member: Member,
    points: int,
    idempotency_key: str,
    reason_code: str,
    reason_params: Mapping[str, Any],
    actor: str,
    merchant_ref: str | None = None,
) -> PointsTransaction:
    """Take `points` from the member's wallet, oldest lots first.

    The points go to the funding account of `merchant_ref` (the merchant whose perk was
    claimed) or, for a reward no merchant funds, to platform breakage. When the wallet is
    short it raises `InsufficientPoints` and nothing changes.
    """
    if type(points) is not int or points <= 0:
        raise Invalid("Points to spend must be a positive whole number.", param="points")
    with atomic():
        wallet = wallet_for_member(member_id=member.pk)
        if merchant_ref is None:
            receiver = platform_account(platform=PlatformAccount.BREAKAGE)
        else:
            receiver = merchant_account_for(merchant_ref=merchant_ref)
        draft = Draft(
            idempotency_key=idempotency_key,
            kind=TransactionKind.SPEND,
            entries=[(wallet, -points), (receiver, points)],
            reason_code=reason_code,
            reason_params=dict(reason_params),
            actor=actor,
            merchant_ref=merchant_ref or "",
            request={
                "spend": member.pk,
                "points": points,
                "merchant_ref": merchant_ref,
                "reason_code": reason_code,
                "reason_params": dict(reason_params),
            },
        )
        return post_draft(draft)


def points_transaction_reverse(
    *, transaction: PointsTransaction, idempotency_key: str, note: str, actor: str
) -> PointsTransaction:
    """Undo `transaction` with a compensating one that points at it; only once.

    Debits from a wallet go back to the lots they came from, with those lots' expiry. A
    credit to a wallet is taken back from the lot it went into, and only as far as that
    lot still holds points: when the member has spent part of an earn, the reversal takes
    back what is left (and gives the funder back the same), so a wallet never goes below
    zero. With nothing left, or for a reversal, it refuses with `NotReversible`.
    """
    if not note.strip():
        raise Invalid("Say why the transaction is reversed.", param="note")
    original = transaction
    request = {"reverse": original.pk, "note": note}
    with atomic():
        if (done := _replay(idempotency_key, request_digest(request))) is not None:
            return done
        if original.kind == TransactionKind.REVERSE:
            raise NotReversible("A reversal cannot itself be reversed.")
        postings = list(original.postings.order_by("pk"))
        locked = accounts_lock(p.account_id for p in postings)
        # Checked under the locks: a concurrent reversal of the same transaction is now committed.
        if (done := _replay(idempotency_key, request_digest(request))) is not None:
            return done
        if PointsTransaction.objects.filter(reverses=original).exists():
            raise AlreadyReversed()
        entries, lot_moves = _compensation(original, postings, locked)
        draft = Draft(
            idempotency_key=idempotency_key,
            kind=TransactionKind.REVERSE,
            entries=entries,
            reason_code=REVERSAL,
            reason_params=reversal_params(
                original_code=original.reason_code, original_params=original.reason_params, note=note
            ),
            actor=actor,
            merchant_ref=original.merchant_ref,
            reverses=original,
            lot_moves=lot_moves,
            request=request,
        )
        return post_draft(draft)


def _compensation(
    original: PointsTransaction, postings: list[Posting], locked: dict[int, Account]
) -> tuple[list[Entry], dict[int, list[tuple[PointsLot, int]]]]:
    entries: list[Entry] = []
    lot_moves: dict[int, list[tuple[PointsLot, int]]] = {}
    short: int | None = None
    for index, posting in enumerate(postings):
        account = locked[posting.account_id]
        take_back = -posting.amount
        if account.kind == AccountKind.MEMBER and posting.amount > 0:
            lot = PointsLot.objects.get(account=account, earned_on=timezone.localdate(original.occurred_at))
            take_back = -min(posting.amount, lot.remaining)
            lot_moves[account.pk] = [(lot, take_back)] if take_back else []
            if take_back != -posting.amount:
                short = index
        elif account.kind == AccountKind.MEMBER:
            consumed = original.lot_movements.filter(lot__account=account).select_related("lot")
            lot_moves[account.pk] = [(move.lot, -move.points) for move in consumed]
        entries.append((account, take_back))
    if short is None:
        return entries, lot_moves
    if len(entries) != 2:
        raise InsufficientPoints("The member has already spent points this transaction gave them.")
    wallet, taken = entries[short]
    if taken == 0:
        raise NotReversible("The member has already spent every point this transaction gave them.")
    counterpart = entries[1 - short][0]
    return [(wallet, taken), (counterpart, -taken)], lot_moves
