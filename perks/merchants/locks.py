"""Row locks of the merchant aggregate. Staff changes serialise on the merchant's row, so
two owners removing each other at once cannot leave a merchant with none."""

from perks.merchants.models import Merchant


def merchant_lock(merchant_id: int) -> Merchant:
    return Merchant.objects.select_for_update(of=("self",)).get(pk=merchant_id)
