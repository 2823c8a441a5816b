"""Demo members: one or more in every tier, each with an event history that explains the
score, consents in various states, a pending downgrade, and a hold under appeal.

Everything goes through the services the product uses; the histories are recorded as the
partners and the platform would have sent them, at the times they would have happened.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from loyalty.members.models import Dimension, LinkStart, LookupPurpose, Member
from loyalty.members.services import LinkInput, consent_set, links_start, member_create, member_lookup_record
from loyalty.scoring.models import PLATFORM_SOURCE, HoldCategory, HoldReason, MemberStanding
from loyalty.scoring.services import (
    ScoreEventInput,
    hold_appeal,
    hold_place,
    score_events_record,
    score_recompute,
)

# The demo merchants whose names appear in the members' histories, by category: the car
# rental reports returns and no-shows, the hotel its post-stay invoices paid on time or
# missed, the coffee chain purchases. Scoring keeps only each one's ref and name.
RENTAL = "car_rental"
BANK = "hotel"
COFFEE = "coffee"

Partners = dict[str, tuple[str, str]]
DOMAIN = "members.perkline.demo"


@dataclass(frozen=True)
class Persona:
    slug: str
    name: str
    locale: str
    shares: tuple[str, ...]
    # (kind, how many, spread over how many days back, source)
    history: tuple[tuple[str, int, int, str | None], ...]


PERSONAS = (
    Persona("newcomer", "Ana Sousa", "en", (), ()),
    Persona(
        "recovering",
        "Zhou Min",
        "zh-hans",
        (Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT),
        (
            ("payment_missed", 2, 120, BANK),
            ("payment_on_time", 2, 40, BANK),
            ("booking_no_show", 1, 200, RENTAL),
        ),
    ),
    Persona(
        "steady",
        "Chen Jie",
        "zh-hans",
        (Dimension.PAYMENT_HISTORY, Dimension.IDENTITY),
        (
            ("payment_on_time", 4, 300, BANK),
            ("email_verified", 1, 400, None),
            ("phone_verified", 1, 400, None),
        ),
    ),
    Persona(
        "regular",
        "Maya Patel",
        "en",
        (Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT, Dimension.TENURE),
        (
            ("payment_on_time", 6, 360, BANK),
            ("rental_returned_on_time", 3, 300, RENTAL),
            ("purchase", 14, 500, COFFEE),
        ),
    ),
    Persona(
        "traveller",
        "Lukas Berg",
        "en",
        (Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT, Dimension.TENURE, Dimension.IDENTITY),
        (
            ("payment_on_time", 8, 360, BANK),
            ("rental_returned_on_time", 4, 300, RENTAL),
            ("rental_returned_late", 1, 250, RENTAL),
            ("purchase", 15, 400, COFFEE),
            ("identity_verified", 1, 500, None),
        ),
    ),
    Persona(
        "exemplary",
        "Wang Fang",
        "zh-hans",
        tuple(Dimension.values),
        (
            ("payment_on_time", 12, 360, BANK),
            ("rental_returned_on_time", 7, 330, RENTAL),
            ("purchase", 30, 600, COFFEE),
            ("identity_verified", 1, 200, None),
            ("phone_verified", 1, 700, None),
            ("asset_declared", 2, 150, None),
        ),
    ),
    Persona(
        "slipping",
        "Omar Haddad",
        "en",
        (Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT, Dimension.TENURE, Dimension.IDENTITY),
        (
            ("payment_on_time", 12, 360, BANK),
            ("rental_returned_on_time", 6, 300, RENTAL),
            ("purchase", 20, 400, COFFEE),
            ("identity_verified", 1, 300, None),
        ),
    ),
)


def seed_members(*, password: Any, partners: Partners) -> list[dict[str, Any]]:
    """Create the demo members; returns their manifest entries (docs/integration.md, "Try it locally").

    `partners` maps a merchant category to the (ref, name) of the demo merchant of it.
    """
    now = timezone.now()
    members = {persona.slug: _persona(persona, now, partners) for persona in PERSONAS}
    _slipping(members["slipping"], now, partners)
    _withdrawn_consent(members["regular"])
    _under_hold_with_appeal(members["steady"], now, partners)
    _looked_up(members["traveller"], partners)
    entries = []
    for persona in PERSONAS:
        member = members[persona.slug]
        user_password = password()
        member.user.set_password(user_password)
        member.user.save(update_fields=["password"])
        standing = MemberStanding.objects.select_related("tier").get(member=member)
        entries.append(
            {
                "ref": member.ref,
                "email": member.user.email,
                "password": user_password,
                "score": standing.score,
                "tier": standing.tier.slug,
            }
        )
    return entries


def _regular(member: Member, partners: Partners) -> None:
    """Every demo member is a regular at every demo merchant, linked as if they had shown
    their pass there, before any history is reported: the guide's calls by member ref then
    work with any demo key."""
    links_start(
        links=[LinkInput(member.pk, ref, name) for ref, name in partners.values()], how=LinkStart.PASS
    )


def _persona(persona: Persona, now: datetime, partners: Partners) -> Member:
    email = f"{persona.slug}@{DOMAIN}"
    user = get_user_model().objects.create_user(username=email, email=email, first_name=persona.name)
    member = member_create(
        user=user, locale=persona.locale, display_name=persona.name, consents=persona.shares
    )
    _regular(member, partners)
    _record(member, persona.history, now, partners)
    return member


def _record(member: Member, history: Any, now: datetime, partners: Partners, tag: str = "h") -> None:
    by_source: dict[str, list[ScoreEventInput]] = {}
    for kind, times, days_back, category in history:
        source = partners[category][0] if category else PLATFORM_SOURCE
        for n in range(times):
            occurred = now - timedelta(days=days_back * (n + 1) / times, hours=3)
            external_id = f"demo-{member.ref}-{tag}-{kind}-{n}"
            by_source.setdefault(source, []).append(ScoreEventInput(external_id, member.pk, kind, occurred))
    for source, events in by_source.items():
        score_events_record(source=source, events=events)
    score_recompute(member_ids=[member.pk])


def _slipping(member: Member, now: datetime, partners: Partners) -> None:
    """Recent missed payments: below the band, the tier held until the grace period ends."""
    _record(member, (("payment_missed", 3, 20, BANK),), now, partners, tag="slip")


def _withdrawn_consent(member: Member) -> None:
    consent_set(member=member, dimension=Dimension.ASSETS, granted=True, source="app")
    consent_set(member=member, dimension=Dimension.ASSETS, granted=False, source="app")
    score_recompute(member_ids=[member.pk])


def _under_hold_with_appeal(member: Member, now: datetime, partners: Partners) -> None:
    rental_ref, rental_name = partners[RENTAL]
    hold = hold_place(
        member=member,
        merchant_ref=rental_ref,
        merchant_name=rental_name,
        category=HoldCategory.DEPOSIT_WAIVER,
        reason_code=HoldReason.DAMAGE_CLAIM,
        detail="Cracked windscreen found when the car came back; the repair invoice is unpaid.",
        evidence="Return inspection RI-2291; repair invoice INV-5521.",
        lift_condition=f"Pay invoice INV-5521 online or at any {rental_name} desk, or show it was paid.",
        obligation_ref="INV-5521",
        expires_at=now + timedelta(days=90),
    )
    hold_appeal(
        hold=hold,
        member=member,
        text="The crack was already there at pick-up: it is in the photos I took at the counter.",
    )


def _looked_up(member: Member, partners: Partners) -> None:
    for category, purpose in ((RENTAL, LookupPurpose.DEPOSIT), (COFFEE, LookupPurpose.BENEFITS)):
        ref, name = partners[category]
        member_lookup_record(member=member, merchant_ref=ref, merchant_name=name, purpose=purpose)
