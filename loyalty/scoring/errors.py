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


class ScoreEventNotFound(NotFound):
    default_message = "No such event."


class NotDisputed(Conflict):
    code = "not_disputed"
    default_message = "This event has no open dispute waiting for your answer."


class EventNotDisputable(Conflict):
    code = "event_not_disputable"
    default_message = "Only a merchant's event that counts can be disputed."


class DisputeExists(Conflict):
    code = "dispute_exists"
    default_message = "This event has already been disputed."


class DisputeNotOpen(Conflict):
    code = "dispute_not_open"
    default_message = "This dispute has already been decided."


class DisputeNotConfirmed(Conflict):
    code = "dispute_not_confirmed"
    default_message = (
        "Only an event the merchant stood by can be upheld; overturn it or wait for the merchant."
    )
