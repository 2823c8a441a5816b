"""The one hierarchy of domain errors.

Services raise these; each surface translates them (the partner API into its error
envelope, the portal and the app into a message on the form). `code` is stable: partners
branch on it, so it never changes once shipped.
"""


class DomainError(Exception):
    code = "domain_error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    default_message = "No such object."


class Conflict(DomainError):
    """The object is in a state that forbids the request right now."""

    code = "conflict"


class Refused(DomainError):
    """The request is understood and well formed, and the rules refuse it."""

    code = "refused"


class Invalid(DomainError):
    """A value the caller passed is not acceptable; `param` names it."""

    code = "validation_error"


class Unavailable(DomainError):
    """A service the request depends on could not be reached; nothing was changed, so the
    same request may be sent again after `retry_after_seconds`."""

    code = "service_unavailable"
    default_message = "A service this needs cannot be reached right now; nothing was changed."
    retry_after_seconds = 30


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_message = "You may not do this."
