"""The kinds of entry the audit trail holds: every `action` a service passes to `audit_record`.

Written once, as data, so what reads the trail (the portal's sentences, its kind filter, the
CSV) can know every kind there is, and a test can hold the services to this list: a kind
written somewhere and missing here fails tests/surfaces/portal/test_audit.py.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    MERCHANT_CREATED = "merchant.created", _("Merchant created")
    MERCHANT_UPDATED = "merchant.updated", _("Merchant profile changed")
    MERCHANT_STATUS_CHANGED = "merchant.status_changed", _("Merchant suspended or restored")
    MERCHANT_LOGO_SET = "merchant.logo_set", _("Logo changed")
    LOCATION_CREATED = "location.created", _("Location added")
    LOCATION_ACTIVATED = "location.activated", _("Location reopened")
    LOCATION_DEACTIVATED = "location.deactivated", _("Location closed")
    LOCATION_UPDATED = "location.updated", _("Location edited")
    STAFF_ADDED = "staff.added", _("Staff added")
    STAFF_ROLE_CHANGED = "staff.role_changed", _("Staff role changed")
    STAFF_REMOVED = "staff.removed", _("Staff removed")
    STAFF_INVITED = "staff.invited", _("Staff invited")
    STAFF_INVITATION_REVOKED = "staff.invitation_revoked", _("Invitation withdrawn")
    STAFF_JOINED = "staff.joined", _("Invitation accepted")
    KEY_CREATED = "key.created", _("API key created")
    KEY_REVOKED = "key.revoked", _("API key revoked")
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created", _("Webhook endpoint added")
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated", _("Webhook endpoint changed")
    WEBHOOK_ENDPOINT_TESTED = "webhook_endpoint.tested", _("Webhook test sent")
    WEBHOOK_DELIVERY_RETRIED = "webhook_delivery.retried", _("Webhook delivery retried")
    PERK_CREATED = "perk.created", _("Perk created")
    PERK_UPDATED = "perk.updated", _("Perk edited")
    PERK_STATUS_CHANGED = "perk.status_changed", _("Perk paused, resumed or archived")
    PERK_IMAGE_SET = "perk.image_set", _("Perk image changed")
    VOUCHER_ISSUED = "voucher.issued", _("Voucher issued")
    VOUCHER_REVOKED = "voucher.revoked", _("Voucher revoked")
    REDEMPTION_CREATED = "redemption.created", _("Voucher redeemed by staff")
    REDEMPTION_REVERSED = "redemption.reversed", _("Redemption reversed")
    CAMPAIGN_CREATED = "campaign.created", _("Campaign started")
    HOLD_PLACED = "hold.placed", _("Hold placed")
    HOLD_LIFTED = "hold.lifted", _("Hold lifted")
    HOLD_APPEAL_DECLINED = "hold.appeal_declined", _("Appeal against a hold answered")
    BILLING_PROFILE_CREATED = "billing.profile_created", _("Billing set up")
    BILLING_ACCOUNT_SET = "billing.account_set", _("Payout account connected")
    BILLING_CARD_SAVED = "billing.card_saved", _("Card saved")
    BILLING_PAUSED = "billing.paused", _("New vouchers paused for an unpaid invoice")
    BILLING_RESUMED = "billing.resumed", _("New vouchers resumed")
