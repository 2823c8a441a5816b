"""Demo points: purchases at partners, a perk claimed, points expired and points about to expire.

Built through the points and voucher services for every member that exists when it runs.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.members.models import Member
from loyalty.points.services import Purchase, points_earn_purchases, points_expire_due
from perks.catalog.models import Perk
from perks.vouchers.services import voucher_claim

# (days ago, merchant category, currency, amount): the first has expired by today, the
# second expires within the notice period, so the demo shows both.
SCHEDULE = [
    (395, "coffee", "CNY", "42.00"),
    (345, "car_rental", "CNY", "680.00"),
    (200, "fx", "HKD", "2000.00"),
    (90, "coffee", "CNY", "38.50"),
    (30, "lounge", "CNY", "260.00"),
    (3, "coffee", "CNY", "45.00"),
]


def seed_points(*, partners: dict[str, tuple[str, str]]) -> None:
    """`partners` maps a merchant category to the (ref, name) of the demo merchant of it."""
    today = timezone.localdate()
    members = list(Member.objects.order_by("pk"))
    for slot, (days_ago, category, currency, amount) in enumerate(SCHEDULE):
        ref, name = partners[category]
        purchases = [
            Purchase(
                external_id=f"demo-{slot}-{member.pk}",
                member_id=member.pk,
                # Members spend differently, so their balances differ.
                amount=Decimal(amount) * (1 + member.pk % 3),
                currency=currency,
                occurred_at=_noon(today - timedelta(days=days_ago)),
            )
            for member in members
        ]
        points_earn_purchases(
            merchant_ref=ref, merchant_name=name, merchant_category=category, purchases=purchases
        )
    coffee = Perk.objects.select_related("merchant").get(merchant__ref=partners["coffee"][0])
    for member in members[::2]:
        # Claimed in the app: the perk's 120 points are spent through the voucher service.
        voucher_claim(perk=coffee, member=member, idempotency_key=f"demo-claim-{member.pk}")
    points_expire_due(today=today)


def _noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))
