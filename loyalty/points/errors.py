from loyalty.core.errors import Conflict, Invalid, Refused


class InsufficientPoints(Refused):
    code = "insufficient_points"
    default_message = "The member does not have enough points."


class IdempotencyKeyReused(Refused):
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for another request."


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = "This transaction has already been reversed."


class NotReversible(Refused):
    code = "not_reversible"
    default_message = "This transaction cannot be reversed."


class UnbalancedPostings(Invalid):
    default_message = "A transaction needs two or more non-zero postings that sum to zero."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, param="postings")
