from loyalty.core.errors import Conflict, Invalid, NotFound


class MemberNotFound(NotFound):
    default_message = "No such member."


class MemberExists(Conflict):
    code = "member_exists"
    default_message = "This user is already a member."


class MemberPassInvalid(Invalid):
    default_message = "The member pass has expired or is not valid: ask the member to show a fresh one."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, param="member_pass")


class LinkNotFound(NotFound):
    default_message = "No such link with a merchant."


class MemberErased(Conflict):
    code = "member_erased"
    default_message = "This account has been erased."
