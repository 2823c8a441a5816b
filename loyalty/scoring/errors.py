from loyalty.core.errors import Conflict, Invalid, NotFound


class TierNotFound(NotFound):
    default_message = "No such tier."


class HoldNotFound(NotFound):
    default_message = "No such hold."


class HoldNotActive(Conflict):
    code = "hold_not_active"
    default_message = "This hold has already ended."


class HoldExists(Conflict):
    code = "hold_exists"
    default_message = "There is already an active hold for this obligation."


class AppealOpen(Conflict):
    code = "appeal_open"
    default_message = "An appeal of this hold is already waiting for a decision."


class AppealNotOpen(Conflict):
    code = "appeal_not_open"
    default_message = "This appeal has already been decided."


class ScoreEventInvalid(Invalid):
    """One event of a batch is not acceptable; `param` points at it in the partner API's
    terms: `events[3].type`, `.id`, `.member`, `.occurred_at`, `.amount` or `.currency`."""
