"""Demo points: purchases at partners, a perk claimed, points expired and points about to expire.

Built through the points services for every member that exists when it runs.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from loyalty.core.refs import new_ref
from loyalty.members.models import Member
from loyalty.points.services import Purchase, points_earn_purchases, points_expire_due, points_spend

# (days ago, partner, category, currency, amount): the first has expired by today, the
# second expires within the notice period, so the demo shows both.
SCHEDULE = [
    (395, "Blue Bottle", "coffee", "CNY", "42.00"),
    (345, "Rentwell Cars", "car_rental", "CNY", "680.00"),
    (200, "Harbour FX", "fx", "HKD", "2000.00"),
    (90, "Blue Bottle", "coffee", "CNY", "38.50"),
    (30, "SkyRest Lounges", "lounge", "CNY", "260.00"),
    (3, "Blue Bottle", "coffee", "CNY", "45.00"),
]


def seed_points() -> None:
    today = timezone.localdate()
    members = list(Member.objects.order_by("pk")) or _demo_members()
    refs = {name: new_ref("mch") for _, name, *_ in SCHEDULE}
    for slot, (days_ago, name, category, currency, amount) in enumerate(SCHEDULE):
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
            merchant_ref=refs[name], merchant_name=name, merchant_category=category, purchases=purchases
        )
    for member in members[::2]:
        points_spend(
            member=member,
            points=120,
            idempotency_key=f"demo-claim-{member.pk}",
            reason_code="perk_claim",
            reason_params={"perk_title": "Free coffee"},
            actor=f"member:{member.ref}",
        )
    points_expire_due(today=today)


def _noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def _demo_members() -> list[Member]:
    """Until the member seeding lands, three members of our own to show points on."""
    User = get_user_model()
    return [
        Member.objects.create(
            user=User.objects.create_user(
                username=f"points{n}@perkline.demo", email=f"points{n}@perkline.demo"
            ),
            display_name=name,
        )
        for n, name in enumerate(["Lin", "Amir", "Sofia"], start=1)
    ]
