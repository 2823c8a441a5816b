from datetime import UTC, date, datetime, timedelta

import pytest

from loyalty.core.errors import Invalid
from loyalty.members.models import Locale
from loyalty.points.selectors import points_balance, points_lots_expiring, points_statement
from loyalty.points.services import points_spend
from tests.factories import MemberFactory
from tests.loyalty.points.ledger_checks import earn

pytestmark = pytest.mark.django_db


def claim(member, points, title="Free coffee"):
    return points_spend(
        member=member,
        points=points,
        idempotency_key=f"claim-{points}-{title}",
        reason_code="perk_claim",
        reason_params={"perk_title": title},
        actor="member:x",
    )


def test_a_member_with_no_wallet_has_an_empty_statement_and_no_points():
    member = MemberFactory.create()

    assert points_balance(member=member) == 0
    assert points_statement(member=member).lines == []
    assert points_lots_expiring(member=member, today=date.today()) == []


def test_the_statement_is_newest_first_with_readable_reasons_and_running_balances():
    member = MemberFactory.create()
    earn(member.pk, 42, external_id="1")
    earn(member.pk, 100, external_id="2")
    claim(member, 120)

    page = points_statement(member=member)

    assert [(line.points, line.balance_after, line.text) for line in page.lines] == [
        (-120, 22, "Free coffee"),
        (100, 142, "Purchase at Blue Bottle, 100 CNY"),
        (42, 42, "Purchase at Blue Bottle, 42 CNY"),
    ]
    assert not page.has_more


def test_the_statement_pages_on_with_starting_after_and_keeps_balances_right():
    member = MemberFactory.create()
    for n in range(5):
        earn(member.pk, 10 + n, external_id=str(n))

    first = points_statement(member=member, limit=2)
    second = points_statement(member=member, limit=2, starting_after=first.lines[-1].id)
    last = points_statement(member=member, limit=2, starting_after=second.lines[-1].id)

    assert [line.points for line in first.lines + second.lines + last.lines] == [14, 13, 12, 11, 10]
    assert [line.balance_after for line in second.lines] == [10 + 11 + 12, 10 + 11]
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)


def test_the_statement_speaks_the_members_language():
    member = MemberFactory.create(locale=Locale.SIMPLIFIED_CHINESE)
    earn(member.pk, 42)

    (line,) = points_statement(member=member).lines

    assert line.text == "在Blue Bottle消费，42 CNY"
    assert points_statement(member=member, locale=Locale.ENGLISH).lines[0].text.startswith("Purchase at")


@pytest.mark.parametrize(("limit", "starting_after"), [(0, None), (101, None), (20, 999_999)])
def test_a_bad_page_request_is_refused(limit, starting_after):
    member = MemberFactory.create()
    earn(member.pk, 5)

    with pytest.raises(Invalid):
        points_statement(member=member, limit=limit, starting_after=starting_after)


def test_lots_about_to_expire_are_listed_soonest_first():
    member = MemberFactory.create()
    today = date(2026, 3, 1)
    for days_ago in (340, 350, 200):
        earn(member.pk, days_ago, occurred_at=datetime(2026, 3, 1, 12, tzinfo=UTC) - timedelta(days=days_ago))

    expiring = points_lots_expiring(member=member, today=today)

    assert [(e.points, e.expires_on) for e in expiring] == [
        (350, date(2026, 3, 16)),
        (340, date(2026, 3, 26)),
    ]
