from loyalty.core.errors import Conflict, Invalid, NotFound, PermissionDenied


class MerchantNotFound(NotFound):
    default_message = "No such merchant."


class NotStaff(PermissionDenied):
    default_message = "You are not staff at this merchant."


class RoleForbids(PermissionDenied):
    default_message = "Your role does not allow this."


class ScopeMissing(PermissionDenied):
    default_message = "This API key lacks the scope this needs."


class MerchantSuspended(PermissionDenied):
    default_message = "This merchant is suspended; contact Perkline to restore it."


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "A merchant needs at least one owner: add another owner first."


class KeyAlreadyRevoked(Conflict):
    code = "key_already_revoked"
    default_message = "This API key is already revoked."


class ImageRefused(Invalid):
    default_message = "This file is not a usable PNG, JPEG or WebP image."


class InvitationClosed(Conflict):
    """The invitation's link no longer works; `status` says why (accepted, revoked, expired)."""

    code = "invitation_closed"
    MESSAGES = {
        "accepted": "This invitation was already used: sign in with the account that accepted it.",
        "revoked": "This invitation was revoked: ask the merchant's owner for a new one if you need it.",
        "expired": "This invitation has expired: ask the merchant's owner to send a new one.",
    }

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(self.MESSAGES.get(status, "This invitation no longer works."))
