"""The citizen app: a member sees their own score and why, holds and how to lift them,
what they share, their points, who looked them up, and their pass; nobody else's."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from loyalty.members.models import Dimension, Locale, LookupPurpose, Notification
from loyalty.members.services import consent_set, member_lookup_record
from loyalty.points.selectors import points_statement
from loyalty.points.services import Purchase, points_earn_purchases
from loyalty.scoring.models import AppealStatus
from loyalty.scoring.services import ScoreEventInput, score_events_record, score_recompute
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import campaign_chunk_issue, campaign_create, campaign_plan
from tests.factories import (
    HoldFactory,
    JoinedMemberFactory,
    MerchantFactory,
    PerkFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("app:home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("app:login"))


def test_a_member_signs_in_with_email_and_password(client):
    member = JoinedMemberFactory.create(user=UserFactory.create(email="li@example.test"))

    response = client.post(
        reverse("app:login"), {"username": "li@example.test", "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    assert client.get(reverse("app:home")).context["standing"].score == member.standing.score


def test_an_account_that_is_not_a_member_is_refused(client):
    client.force_login(UserFactory.create())

    assert client.get(reverse("app:home")).status_code == 403


def test_home_shows_the_score_its_reasons_and_each_shared_dimension(signed_in, member):
    consent_set(member=member, dimension=Dimension.PAYMENT_HISTORY, granted=True, source="app")
    events = [ScoreEventInput(f"e{n}", member.pk, "payment_missed", _days_ago(10 * n + 1)) for n in range(3)]
    score_events_record(source="mch_0000000000000000000a", events=events)
    score_recompute(member_ids=[member.pk])

    response = signed_in.get(reverse("app:home"))

    page = response.content.decode()
    assert str(response.context["standing"].score) in page
    assert response.context["reasons"], "a member with missed payments is told why"
    assert all(escape(reason) in page for reason in response.context["reasons"])
    payment = next(c for c in response.context["contributions"] if c["label"] == "Payment history")
    assert payment["shared"]
    assert payment["points"] < 0


def test_the_page_and_its_reasons_come_in_the_members_language(client):
    member = JoinedMemberFactory.create(locale=Locale.SIMPLIFIED_CHINESE)
    client.force_login(member.user)

    response = client.get(reverse("app:home"))

    assert any("分" in reason for reason in response.context["reasons"])
    assert "您的评分" in response.content.decode()


def test_holds_show_why_how_to_lift_and_until_when(signed_in, member):
    hold = HoldFactory.create(member=member)

    page = signed_in.get(reverse("app:holds")).content.decode()

    assert hold.merchant_name in page
    assert hold.lift_condition in page
    assert "Contest this hold" in page


def test_a_member_appeals_a_hold_once(signed_in, member):
    hold = HoldFactory.create(member=member)
    url = reverse("app:hold-appeal", args=[hold.ref])
    text = "It was paid at the branch; I have the receipt."

    signed_in.post(url, {"text": text})
    second = signed_in.post(url, {"text": text}, follow=True)

    assert [a.status for a in hold.appeals.all()] == [AppealStatus.OPEN]
    assert "Contest this hold" not in second.content.decode()


def test_another_members_hold_cannot_be_appealed(signed_in):
    someone_else = HoldFactory.create()

    response = signed_in.post(
        reverse("app:hold-appeal", args=[someone_else.ref]), {"text": "Not mine but let me try."}, follow=True
    )

    assert not someone_else.appeals.exists()
    assert someone_else.merchant_name not in response.content.decode()


def test_sharing_and_unsharing_a_dimension(signed_in, member):
    url = reverse("app:consents")

    signed_in.post(url, {"dimension": Dimension.FULFILMENT, "granted": "1"})
    shared = {c.dimension: c.granted for c in signed_in.get(url).context["consents"]}
    signed_in.post(url, {"dimension": Dimension.FULFILMENT, "granted": "0"})
    unshared = {c.dimension: c.granted for c in signed_in.get(url).context["consents"]}

    assert shared[Dimension.FULFILMENT] is True
    assert unshared[Dimension.FULFILMENT] is False


def test_points_statement_pages_from_newest_to_oldest(signed_in, member):
    purchases = [
        Purchase(
            external_id=f"p{n}",
            member_id=member.pk,
            amount=Decimal("30.00"),
            currency="CNY",
            occurred_at=_days_ago(n),
        )
        for n in range(25)
    ]
    points_earn_purchases(
        merchant_ref="mch_0000000000000000000a",
        merchant_name="Blue Kettle",
        merchant_category="coffee",
        purchases=purchases,
    )

    first = signed_in.get(reverse("app:points"))
    second = signed_in.get(reverse("app:points"), {"after": first.context["next_after"]})

    assert first.context["balance"] == 25 * 30
    assert len(first.context["page"].lines) == 20
    assert len(second.context["page"].lines) == 5
    assert second.context["next_after"] is None
    everything = points_statement(member=member, limit=100).lines
    assert [line.id for line in first.context["page"].lines + second.context["page"].lines] == [
        line.id for line in everything
    ]


def test_privacy_lists_who_looked_the_member_up(signed_in, member):
    member_lookup_record(
        member=member,
        merchant_ref="mch_0000000000000000000a",
        merchant_name="Jade Road Car Rental",
        purpose=LookupPurpose.DEPOSIT,
    )

    page = signed_in.get(reverse("app:privacy")).content.decode()

    assert "Jade Road Car Rental" in page


def _days_ago(days):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(days=days)


def test_messages_are_written_out_for_the_member(signed_in, member):
    HoldFactory.create(member=member, merchant_name="Swift Car Rental")

    page = signed_in.get(reverse("app:messages")).content.decode()

    assert "Swift Car Rental paused some of its perks for you." in page
    assert "hold_placed" not in page


def test_a_voucher_a_campaign_sent_is_among_the_members_messages(signed_in, member):
    JoinedMemberFactory.create()  # in the audience too: their voucher is no message to this member
    HoldFactory.create(member=member, merchant_name="Swift Car Rental")
    merchant = MerchantFactory.create(name="Lotus Coffee")
    perk = PerkFactory.create(merchant=merchant, title="A free flat white")
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier=member.standing.tier.slug)
    for chunk_id in campaign_plan(campaign_id=campaign.pk):
        campaign_chunk_issue(chunk_id=chunk_id)

    page = signed_in.get(reverse("app:messages")).content.decode()

    sent = "Lotus Coffee sent you a voucher: A free flat white. It is in your wallet."
    assert page.count(sent) == 1
    assert page.index(sent) < page.index("Swift Car Rental paused some of its perks for you.")  # newest first
    assert not Notification.objects.filter(member=member, kind="voucher_received").exists()
