"""The merchant side's services: what the API, the portal and the admin call."""

from perks.merchants.services.access import Actor, actor_require, api_key_require, audit_record, staff_require
from perks.merchants.services.invitations import (
    CreatedInvitation,
    invitation_accept,
    invitation_accept_new,
    invitation_by_token,
    invitation_revoke,
    staff_invite,
)
from perks.merchants.services.keys import CreatedKey, api_key_authenticate, api_key_create, api_key_revoke
from perks.merchants.services.merchants import (
    location_create,
    location_set_active,
    location_update,
    merchant_create,
    merchant_logo_set,
    merchant_status_set,
    merchant_update,
)
from perks.merchants.services.reports import EventsRecorded, PartnerEvent, partner_events_record
from perks.merchants.services.staff import staff_add, staff_remove, staff_role_change
from perks.merchants.services.webhooks import (
    WEBHOOK_EVENT_TYPES,
    CreatedEndpoint,
    webhook_deliveries_dispatch,
    webhook_delivery_attempt,
    webhook_delivery_retry,
    webhook_emit,
    webhook_endpoint_create,
    webhook_endpoint_test,
    webhook_endpoint_update,
)

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "Actor",
    "CreatedEndpoint",
    "CreatedInvitation",
    "CreatedKey",
    "EventsRecorded",
    "PartnerEvent",
    "actor_require",
    "api_key_authenticate",
    "api_key_create",
    "api_key_require",
    "api_key_revoke",
    "audit_record",
    "invitation_accept",
    "invitation_accept_new",
    "invitation_by_token",
    "invitation_revoke",
    "location_create",
    "location_set_active",
    "location_update",
    "merchant_create",
    "merchant_logo_set",
    "merchant_status_set",
    "merchant_update",
    "partner_events_record",
    "staff_add",
    "staff_invite",
    "staff_remove",
    "staff_require",
    "staff_role_change",
    "webhook_deliveries_dispatch",
    "webhook_delivery_attempt",
    "webhook_delivery_retry",
    "webhook_emit",
    "webhook_endpoint_create",
    "webhook_endpoint_test",
    "webhook_endpoint_update",
]
