"""Staff and operators are signed out after 30 minutes without a request, whichever page
signed them in; members stay signed in on their phone for two weeks."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from perks.merchants.permissions import Role
from tests.factories import JoinedMemberFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed_in_through(client, login, user):
    response = client.post(reverse(login), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("login", ["portal:login", "app:login"])
def test_staff_are_signed_out_after_30_minutes_idle_but_not_while_working(client, login):
    staff = StaffFactory.create(role=Role.CASHIER)
    account = reverse("portal:account")
    with time_machine.travel(START, tick=False) as traveller:
        signed_in_through(client, login, staff.user)

        for _ in range(3):  # an hour and a half of work, a request every 29 minutes
            traveller.shift(timedelta(minutes=29))
            assert client.get(account).status_code == 200
        traveller.shift(timedelta(minutes=31))
        response = client.get(account)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_an_operator_idle_for_30_minutes_is_signed_out(client):
    operator = UserFactory.create(is_staff=True)
    with time_machine.travel(START, tick=False) as traveller:
        signed_in_through(client, "app:login", operator)
        traveller.shift(timedelta(minutes=31))
        response = client.get(reverse("app:account"))

    assert response.status_code == 302


def test_members_stay_signed_in_for_days(client):
    member = JoinedMemberFactory.create()
    with time_machine.travel(START, tick=False) as traveller:
        signed_in_through(client, "app:login", member.user)
        traveller.shift(timedelta(days=13))
        response = client.get(reverse("app:home"))

    assert response.status_code == 200
