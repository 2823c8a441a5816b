"""Everything Perkline holds about a member, as one JSON document they can download.

Composed here, in the surface, from each domain's own selectors: the member side
(profile, consent and its history, score data, holds, points) and the merchant side
(vouchers and their uses). Merchants appear by the name and ref the member already sees;
nothing about any other member is included.
"""

from typing import Any

from django.utils import timezone

from loyalty.members.models import Member
from loyalty.members.selectors import member_consents, member_links, member_lookups, member_notifications
from loyalty.points.selectors import STATEMENT_LIMIT_MAX, points_balance, points_statement
from loyalty.scoring.selectors import (
    MemberHold,
    holds_of_member,
    member_disputes,
    member_score_events,
    score_history,
    tier_history,
)
from perks.catalog.wording import perk_title
from perks.vouchers.codes import code_format
from perks.vouchers.selectors import vouchers_of_member

FORMAT_VERSION = 1


def member_export(*, member: Member) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "member": {
            "ref": member.ref,
            "email": member.user.email,
            "display_name": member.display_name,
            "locale": member.locale,
            "email_verified": member.email_verified,
            "phone": member.phone,
            "phone_verified": member.phone_verified,
            "joined_at": member.joined_at,
        },
        "consents": [
            {"dimension": c.dimension, "granted": c.granted, "changed_at": c.changed_at}
            for c in member_consents(member=member)
        ],
        "consent_history": list(
            member.consent_changes.order_by("changed_at", "pk").values(
                "dimension", "granted", "source", "changed_at"
            )
        ),
        "score_events": list(
            member_score_events(member=member).values(
                "source",
                "external_id",
                "kind_id",
                "dimension",
                "impact",
                "occurred_at",
                "amount",
                "currency",
                "cap",
            )
        ),
        "scores": [
            {
                "computed_at": s.computed_at,
                "score": s.score,
                "tier": s.tier.slug,
                "cause": s.cause,
                "engine_version": s.engine_version,
            }
            for s in score_history(member=member)
        ],
        "tier_changes": [
            {
                "changed_at": change.changed_at,
                "tier": change.tier.slug,
                "previous_tier": change.previous_tier.slug if change.previous_tier else None,
            }
            for change in tier_history(member=member)
        ],
        "holds": [_hold(item) for item in holds_of_member(member=member)],
        "disputes": list(
            member_disputes(member=member).values(
                "event__source",
                "event__external_id",
                "event__kind_id",
                "reason",
                "status",
                "opened_at",
                "due_at",
                "evidence",
                "confirmed_at",
                "decided_at",
                "decision_note",
            )
        ),
        "points": {"balance": points_balance(member=member), "statement": _statement(member)},
        "vouchers": [
            {
                "code": code_format(voucher.code),
                "perk": perk_title(voucher.perk),
                "merchant": voucher.merchant.name,
                "status": voucher.status,
                "source": voucher.source,
                "uses_allowed": voucher.uses_allowed,
                "uses_count": voucher.uses_count,
                "points_spent": voucher.points_spent,
                "issued_at": voucher.issued_at,
                "expires_at": voucher.expires_at,
                "redemptions": list(voucher.redemptions.values("ref", "occurred_at", "amount", "currency")),
            }
            for voucher in vouchers_of_member(member=member)
            .select_related("perk", "merchant")
            .prefetch_related("redemptions")
        ],
        "lookups": list(member_lookups(member=member).values("merchant_name", "purpose", "looked_up_at")),
        "links": list(
            member_links(member=member).values(
                "merchant_ref", "merchant_name", "started_at", "started_by", "ended_at", "ended_by"
            )
        ),
        "notifications": list(
            member_notifications(member=member).values("kind", "params", "created_at", "read_at")
        ),
    }


def _hold(item: MemberHold) -> dict[str, Any]:
    hold, appeal = item.hold, item.appeal
    return {
        "ref": hold.ref,
        "merchant": hold.merchant_name,
        "category": hold.category,
        "reason": hold.reason_code,
        "detail": hold.detail,
        "evidence": hold.evidence,
        "lift_condition": item.lift_terms,
        "lift_on": hold.lift_on,
        "obligation_ref": hold.obligation_ref,
        "status": hold.status,
        "placed_at": hold.placed_at,
        "expires_at": hold.expires_at,
        "lifted_at": hold.lifted_at,
        "appeal": None if appeal is None else {"text": appeal.text, "status": appeal.status},
    }


def _statement(member: Member) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    after = None
    while True:
        page = points_statement(
            member=member, limit=STATEMENT_LIMIT_MAX, starting_after=after, locale=member.locale
        )
        lines += [
            {
                "occurred_at": line.occurred_at,
                "points": line.points,
                "balance_after": line.balance_after,
                "text": line.text,
            }
            for line in page.lines
        ]
        if not page.has_more:
            return lines
        after = page.lines[-1].id
