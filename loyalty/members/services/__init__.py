"""What changes a member: joining, consent, the member pass, the look-up log
(members.py), their links with merchants (links.py), and the messages the app shows them
(notifications.py)."""

from loyalty.members.services.erasure import (
    member_erase,
    member_erasure_cancel,
    member_erasure_due,
    member_erasure_request,
    members_erase_due,
)
from loyalty.members.services.links import LinkInput, link_end, link_start, links_start, member_pass_show
from loyalty.members.services.members import (
    consent_set,
    member_create,
    member_locale_set,
    member_lookup_record,
    member_pass_issue,
    member_pass_verify,
    member_passes_purge,
    member_verification_record,
)
from loyalty.members.services.notifications import (
    NotificationInput,
    notification_add,
    notification_mark_read,
    notifications_add,
)

__all__ = [
    "LinkInput",
    "NotificationInput",
    "consent_set",
    "link_end",
    "link_start",
    "links_start",
    "member_create",
    "member_erase",
    "member_erasure_cancel",
    "member_erasure_due",
    "member_erasure_request",
    "member_locale_set",
    "member_lookup_record",
    "member_pass_issue",
    "member_pass_show",
    "member_pass_verify",
    "member_passes_purge",
    "member_verification_record",
    "members_erase_due",
    "notification_add",
    "notification_mark_read",
    "notifications_add",
]
