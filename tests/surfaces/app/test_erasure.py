"""Deleting the account in the app: the password again, the data download offered first,
days to cancel shown with a Cancel button, then the job."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.members.models import Member
from loyalty.members.services import members_erase_due
from loyalty.members.services.erasure import ERASURE_CANCEL_DAYS
from tests.factories import JoinedMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def member():
    return JoinedMemberFactory.create(user=UserFactory.create(email="li@example.test"))


def _requested_at(member):
    return Member.objects.get(pk=member.pk).erasure_requested_at


def test_privacy_leads_to_deleting_the_account(signed_in):
    page = signed_in.get(reverse("app:privacy")).content.decode()

    assert reverse("app:account-delete") in page


def test_the_download_is_offered_before_the_password_is_asked(signed_in):
    page = signed_in.get(reverse("app:account-delete")).content.decode()

    assert reverse("app:privacy-export") in page
    assert page.index(reverse("app:privacy-export")) < page.index('name="password"')


def test_a_wrong_password_is_refused_and_nothing_is_asked(signed_in, member):
    response = signed_in.post(reverse("app:account-delete"), {"password": "not it"})

    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert _requested_at(member) is None


def test_the_password_starts_the_days_to_cancel_shown_with_a_cancel_button(signed_in, member):
    response = signed_in.post(reverse("app:account-delete"), {"password": PASSWORD}, follow=True)

    asked = _requested_at(member)
    assert asked is not None
    page = response.content.decode()
    assert reverse("app:account-delete-cancel") in page
    assert response.context["due_at"] == asked + timedelta(days=ERASURE_CANCEL_DAYS)
    assert "Your account is to be erased." in signed_in.get(reverse("app:privacy")).content.decode()


def test_cancelling_within_the_days_keeps_the_account(signed_in, member):
    signed_in.post(reverse("app:account-delete"), {"password": PASSWORD})

    response = signed_in.post(reverse("app:account-delete-cancel"), follow=True)

    assert _requested_at(member) is None
    assert response.context["due_at"] is None  # the page offers deleting again
    assert members_erase_due(now=timezone.now() + timedelta(days=ERASURE_CANCEL_DAYS + 1)) == 0


def test_the_job_erases_after_the_days_and_the_member_can_no_longer_sign_in(client, signed_in, member):
    signed_in.post(reverse("app:account-delete"), {"password": PASSWORD})
    assert members_erase_due(now=timezone.now() + timedelta(days=ERASURE_CANCEL_DAYS - 1)) == 0
    assert signed_in.get(reverse("app:home")).status_code == 200

    assert members_erase_due(now=timezone.now() + timedelta(days=ERASURE_CANCEL_DAYS, minutes=1)) == 1

    assert signed_in.get(reverse("app:home"))["Location"].startswith(reverse("app:login"))
    client.logout()
    refused = client.post(reverse("app:login"), {"username": "li@example.test", "password": PASSWORD})
    assert refused.status_code == 200  # the form again, not a redirect in
    assert not refused.wsgi_request.user.is_authenticated


def test_cancel_only_answers_a_post(signed_in):
    assert signed_in.get(reverse("app:account-delete-cancel")).status_code == 405
