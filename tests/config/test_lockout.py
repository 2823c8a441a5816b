"""Sign-in throttling (django-axes): past the limit, from one address or on one account, the
app's, the portal's and the console's sign-ins refuse even the right password, before any
password is hashed, and say when to try again. The partner API is no sign-in and is left alone."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from loyalty.members.models import Member
from tests.factories import JoinedMemberFactory, UserFactory
from tests.support.accounts import CountingHasher

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
LOGINS = ["app:login", "portal:login", "admin:login"]
LIMIT = 3  # the number does not matter to most tests; one tries the real 50


@pytest.fixture(autouse=True)
def counted(settings):
    """Passwords hashed by a hasher that counts, and a low limit."""
    settings.PASSWORD_HASHERS = ["tests.support.accounts.CountingHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    CountingHasher.calls = 0


@pytest.fixture
def operator():
    return UserFactory.create(email="ops@example.test", is_staff=True)


def attempt(client, login, username, password="not it", ip="192.0.2.10", **headers):  # noqa: S107 (wrong on purpose)
    return client.post(
        reverse(login), {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def signed_in(client):
    return SESSION_KEY in client.session


def hashed_during(request):
    before = CountingHasher.calls
    response = request()
    return response, CountingHasher.calls - before


@pytest.mark.parametrize("login", LOGINS)
def test_past_the_limit_on_an_account_the_right_password_is_refused_without_hashing(client, operator, login):
    for _ in range(LIMIT - 1):
        response, hashed = hashed_during(lambda: attempt(client, login, operator.username))
        assert response.status_code == 200  # the form again, with its error
        assert hashed == 1
    assert attempt(client, login, operator.username).status_code == 429  # the last failure locks

    response, hashed = hashed_during(lambda: attempt(client, login, operator.username, PASSWORD))

    assert response.status_code == 429
    assert hashed == 0
    assert not signed_in(client)


def test_at_the_real_limit_the_51st_attempt_is_refused_without_hashing(client, settings, operator):
    settings.AXES_FAILURE_LIMIT = 50
    answers = [attempt(client, "app:login", operator.username).status_code for _ in range(49)]
    assert set(answers) == {200}
    assert attempt(client, "app:login", operator.username).status_code == 429

    response, hashed = hashed_during(lambda: attempt(client, "app:login", operator.username, PASSWORD))

    assert (response.status_code, hashed) == (429, 0)
    assert not signed_in(client)


def test_an_address_alone_locks_whichever_accounts_it_tries(client, operator):
    for n in range(LIMIT):
        attempt(client, "portal:login", f"guess{n}@example.test", ip="198.51.100.7")

    response, hashed = hashed_during(
        lambda: attempt(client, "portal:login", operator.username, PASSWORD, ip="198.51.100.7")
    )

    assert (response.status_code, hashed) == (429, 0)
    assert attempt(client, "portal:login", operator.username, PASSWORD, ip="203.0.113.1").status_code == 302


def test_an_account_alone_locks_whichever_addresses_try_it(client, operator):
    for n in range(LIMIT):
        attempt(client, "app:login", operator.username, ip=f"198.51.100.{n + 1}")

    response, hashed = hashed_during(
        lambda: attempt(client, "app:login", operator.username, PASSWORD, ip="203.0.113.1")
    )

    assert (response.status_code, hashed) == (429, 0)
    other = UserFactory.create()
    assert attempt(client, "app:login", other.username, PASSWORD, ip="203.0.113.1").status_code == 302


def test_behind_a_proxy_each_client_is_counted_by_the_address_the_proxy_saw(client, settings, operator):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for n in range(LIMIT):
        # What the client writes itself into X-Forwarded-For changes nothing.
        attempt(
            client,
            "app:login",
            f"guess{n}@example.test",
            ip=proxy,
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.7",
        )

    locked = attempt(
        client, "app:login", operator.username, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    another = attempt(
        client, "app:login", operator.username, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.1"
    )

    assert (locked.status_code, another.status_code) == (429, 302)


@pytest.mark.parametrize(
    ("login", "reset"), [("app:login", "app:password-reset"), ("portal:login", "portal:password-reset")]
)
def test_the_lockout_page_says_when_to_try_again_and_offers_a_new_password(client, operator, login, reset):
    for _ in range(LIMIT):
        response = attempt(client, login, operator.username)

    page = response.content.decode()
    assert response.status_code == 429
    assert response["Retry-After"] == "1800"
    assert "Signing in is paused for a while" in page
    assert "Please try again in 30 minutes." in page
    assert reverse(reset) in page


def test_the_partner_api_is_no_sign_in_and_a_locked_address_still_reaches_it(client, operator):
    for n in range(LIMIT):
        attempt(client, "app:login", f"guess{n}@example.test")

    response = client.get("/api/v1/perks", REMOTE_ADDR="192.0.2.10", HTTP_AUTHORIZATION="Bearer pk_not_a_key")

    assert response.status_code == 401
    assert response.json()["error"]["type"]
    assert AccessAttempt.objects.filter(path_info__startswith="/api/").count() == 0


def test_wrong_passwords_at_a_members_password_check_count_towards_the_lockout(client):
    """A phone left signed in is no way around the limit: the password asked again before
    erasure is checked as a sign-in is, and past the limit even the right one is refused."""
    member = JoinedMemberFactory.create().user
    client.force_login(member)
    for _ in range(LIMIT):
        client.post(reverse("app:account-delete"), {"password": "not it"}, REMOTE_ADDR="192.0.2.20")

    response, hashed = hashed_during(
        lambda: client.post(reverse("app:account-delete"), {"password": PASSWORD}, REMOTE_ADDR="192.0.2.20")
    )

    assert response.status_code == 429  # the lockout page, saying when to try again
    assert hashed == 0
    assert Member.objects.get(user=member).erasure_requested_at is None
    assert AccessAttempt.objects.filter(username=member.username).exists()
