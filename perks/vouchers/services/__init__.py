"""The voucher services: what the API, the portal, the app side and the jobs call."""

from perks.vouchers.services.actors import actor_label
from perks.vouchers.services.issuance import voucher_claim, voucher_event_data, voucher_issue
from perks.vouchers.services.lifecycle import reservations_expire_due, voucher_revoke, vouchers_expire_due
from perks.vouchers.services.redemption import (
    Validation,
    redemption_reverse,
    reservation_create,
    reservation_release,
    voucher_redeem,
    voucher_refusal,
    voucher_validate,
)
from perks.vouchers.services.side_effects import redemption_side_effects_apply, reversal_side_effects_apply

__all__ = [
    "Validation",
    "actor_label",
    "redemption_reverse",
    "redemption_side_effects_apply",
    "reservation_create",
    "reservation_release",
    "reservations_expire_due",
    "reversal_side_effects_apply",
    "voucher_claim",
    "voucher_event_data",
    "voucher_issue",
    "voucher_redeem",
    "voucher_refusal",
    "voucher_revoke",
    "voucher_validate",
    "vouchers_expire_due",
]
