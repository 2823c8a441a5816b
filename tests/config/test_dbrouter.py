"""The read replica: only reads marked lag-tolerant go there, never a write, never a read in a
transaction on the primary, never a page right after its person wrote, never eligibility or
redemption; without DATABASE_REPLICA_URL there is no replica at all.

The router's choices are tested always. The pages' are tested when the replica is
configured: run this file with DATABASE_REPLICA_URL set to DATABASE_URL (the test database's
mirror, as Django documents for replicas), e.g.
`DATABASE_REPLICA_URL=$DATABASE_URL pytest tests/config/test_dbrouter.py`.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.dbrouter import ReplicaRouter
from loyalty.core.replica import REPLICA, WROTE_COOKIE, lag_tolerant_reads, wrote_recently
from loyalty.members.models import Member
from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import campaign_chunk_issue, campaign_create, campaign_plan
from perks.vouchers.models import Redemption, Voucher
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, PerkFactory, StaffFactory

ROOT = Path(__file__).resolve().parents[2]

with_replica = pytest.mark.skipif(
    REPLICA not in settings.DATABASES, reason="needs DATABASE_REPLICA_URL (this module's docstring)"
)
replica_pages = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])


# The router's choices


def test_an_unmarked_read_goes_to_the_primary():
    assert ReplicaRouter().db_for_read(Member) == DEFAULT_DB_ALIAS


def test_a_marked_read_goes_to_the_replica_and_only_within_the_mark():
    router = ReplicaRouter()

    with lag_tolerant_reads():
        assert router.db_for_read(Member) == REPLICA

    assert router.db_for_read(Member) == DEFAULT_DB_ALIAS


def test_a_write_goes_to_the_primary_and_the_rest_of_its_mark_reads_the_primary():
    router = ReplicaRouter()

    assert router.db_for_write(Member) == DEFAULT_DB_ALIAS
    with lag_tolerant_reads():
        assert router.db_for_read(Member) == REPLICA
        assert router.db_for_write(Member) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Member) == DEFAULT_DB_ALIAS
    with lag_tolerant_reads():
        assert router.db_for_read(Member) == REPLICA


@pytest.mark.django_db(transaction=True)
def test_a_marked_read_in_a_transaction_on_the_primary_goes_to_the_primary():
    router = ReplicaRouter()

    with lag_tolerant_reads():
        with transaction.atomic():
            assert router.db_for_read(Member) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Member) == REPLICA


def test_only_the_primary_is_migrated_and_rows_relate_across_both():
    router = ReplicaRouter()

    assert router.allow_migrate(DEFAULT_DB_ALIAS, "members")
    assert not router.allow_migrate(REPLICA, "members")
    assert router.allow_relation(Member(), Member())


def test_a_write_is_recent_for_the_sticky_window_only(settings):
    settings.DATABASE_REPLICA_STICKY_SECONDS = 10
    factory = RequestFactory()

    def request(cookie: str | None):
        made = factory.get("/")
        if cookie is not None:
            made.COOKIES[WROTE_COOKIE] = cookie
        return made

    assert not wrote_recently(request(None))
    assert wrote_recently(request(str(time.time() - 9)))
    assert not wrote_recently(request(str(time.time() - 11)))
    assert wrote_recently(request("not a time"))


def _settings_with(**env: str) -> dict:
    show = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS,"
        " 'middleware': s.MIDDLEWARE}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    done = subprocess.run(  # noqa: S603 (our own interpreter and argv)
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_without_a_replica_url_there_is_no_alias_router_or_cookie():
    loaded = _settings_with(DATABASE_URL="postgres://app@db.example.test:5432/perkline")

    assert list(loaded["databases"]) == [DEFAULT_DB_ALIAS]
    assert loaded["routers"] == []
    assert "loyalty.core.replica.ReadYourWritesMiddleware" not in loaded["middleware"]


def test_the_replica_url_adds_an_alias_set_up_as_the_primary_and_mirrored_in_tests():
    loaded = _settings_with(
        DATABASE_URL="postgres://app@db.example.test:5432/perkline",
        DATABASE_REPLICA_URL="postgres://app@replica.example.test:5433/perkline",
    )

    primary, replica = loaded["databases"][DEFAULT_DB_ALIAS], loaded["databases"][REPLICA]
    assert (replica["HOST"], replica["PORT"]) == ("replica.example.test", 5433)
    assert replica["OPTIONS"] == primary["OPTIONS"]
    assert replica["CONN_MAX_AGE"] == primary["CONN_MAX_AGE"]
    assert replica["TEST"]["MIRROR"] == DEFAULT_DB_ALIAS
    assert loaded["routers"] == ["config.dbrouter.ReplicaRouter"]
    middleware = loaded["middleware"]
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware[auth + 1] == "loyalty.core.replica.ReadYourWritesMiddleware"


# The pages, with a replica


@dataclass(frozen=True)
class Captured:
    """The SQL each database was sent while the block ran."""

    primary: CaptureQueriesContext
    replica: CaptureQueriesContext

    def on_replica(self, table: str) -> bool:
        return any(table in query["sql"] for query in self.replica.captured_queries)


@contextmanager
def queries_per_database() -> Iterator[Captured]:
    primary = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS])
    replica = CaptureQueriesContext(connections[REPLICA])
    with primary, replica:
        yield Captured(primary, replica)


@pytest.fixture
def member():
    return JoinedMemberFactory.create(points=300)


@pytest.fixture
def staff():
    return StaffFactory.create(role=Role.OWNER)


@with_replica
@replica_pages
@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("app:points", "points_"),
        ("app:events", "scoring_scoreevent"),
        ("app:privacy", "members_memberlookup"),
        ("app:privacy-export", "points_"),
        ("app:messages", "members_notification"),
    ],
)
def test_the_members_history_pages_read_the_replica(client, member, name, table):
    client.force_login(member.user)

    with queries_per_database() as queries:
        response = client.get(reverse(name))

    assert response.status_code == 200
    assert queries.on_replica(table), [q["sql"] for q in queries.replica.captured_queries]
    # Who is asking, and whether they are a member, is settled on the primary.
    assert not queries.on_replica("django_session")
    assert not queries.on_replica('"members_member"."user_id" =')


@with_replica
@replica_pages
@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("portal:dashboard", "catalog_perk"),
        ("portal:audit", "merchants_auditentry"),
        ("portal:webhooks", "merchants_webhook"),
        ("portal:campaigns", "vouchers_campaign"),
        ("portal:holds", "scoring_hold"),
    ],
)
def test_the_portal_dashboard_and_lists_read_the_replica(client, staff, name, table):
    PerkFactory.create(merchant=staff.merchant)
    client.force_login(staff.user)

    with queries_per_database() as queries:
        response = client.get(reverse(name, args=[staff.merchant.slug]))

    assert response.status_code == 200
    assert queries.on_replica(table), [q["sql"] for q in queries.replica.captured_queries]
    # Whether the person works here, and as what, is settled on the primary (the audit trail
    # may still list the staff's names from the replica, for its filter).
    guard = f'"merchants_staff"."user_id" = {staff.user_id}'
    assert any(guard in query["sql"] for query in queries.primary.captured_queries)
    assert not queries.on_replica(guard)


@with_replica
@replica_pages
def test_the_campaign_codes_export_streams_from_the_replica(client, staff):
    perk = PerkFactory.create(merchant=staff.merchant)
    JoinedMemberFactory.create_batch(2)
    campaign = campaign_create(
        merchant=staff.merchant, actor=staff.user, perk=perk, min_tier=None, min_score=350
    )
    for chunk_id in campaign_plan(campaign_id=campaign.pk):
        campaign_chunk_issue(chunk_id=chunk_id)
    client.force_login(staff.user)

    with queries_per_database() as queries:
        response = client.get(reverse("portal:campaign-codes", args=[staff.merchant.slug, campaign.ref]))
        body = b"".join(response.streaming_content).decode()

    assert len(body.splitlines()) == 1 + Voucher.objects.filter(campaign=campaign).count()
    assert queries.on_replica("vouchers_voucher")
    assert not any("vouchers_voucher" in q["sql"] for q in queries.primary.captured_queries)


@with_replica
@replica_pages
def test_after_a_write_its_person_reads_the_primary_for_the_sticky_window(client, member, settings):
    client.force_login(member.user)

    posted = client.post(reverse("app:consents"), {"dimension": "purchases", "granted": "on"})
    assert posted.status_code == 302
    assert WROTE_COOKIE in posted.cookies
    assert posted.cookies[WROTE_COOKIE]["max-age"] == settings.DATABASE_REPLICA_STICKY_SECONDS
    with queries_per_database() as queries:
        assert client.get(reverse("app:points")).status_code == 200
    assert queries.replica.captured_queries == []
    assert queries.primary.captured_queries

    client.cookies[WROTE_COOKIE] = str(time.time() - settings.DATABASE_REPLICA_STICKY_SECONDS - 1)
    with queries_per_database() as queries:
        assert client.get(reverse("app:points")).status_code == 200
    assert queries.on_replica("points_")


@with_replica
@replica_pages
def test_reads_and_signed_out_posts_never_set_the_cookie(client, member):
    client.force_login(member.user)

    assert WROTE_COOKIE not in client.get(reverse("app:points")).cookies
    # A signed-out POST (a failed sign-in) has nobody to keep on the primary.
    client.logout()
    assert WROTE_COOKIE not in client.post(reverse("app:login"), {"username": "x", "password": "y"}).cookies


@with_replica
@replica_pages
def test_eligibility_and_claims_never_touch_the_replica(client, member):
    perk = PerkFactory.create(points_cost=120)
    client.force_login(member.user)

    with queries_per_database() as queries:
        assert client.get(reverse("app:home")).status_code == 200
        assert client.get(reverse("app:perks")).status_code == 200
        claimed = client.post(reverse("app:perk-claim", args=[perk.ref]), {"claim_key": "0" * 32})
        assert client.get(reverse("app:wallet")).status_code == 200

    assert claimed.status_code == 302
    assert Voucher.objects.filter(member=member, perk=perk).exists()
    assert queries.replica.captured_queries == []


@with_replica
@replica_pages
def test_redemption_at_the_counter_never_touches_the_replica(client, staff):
    perk = PerkFactory.create(merchant=staff.merchant)
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=staff.user)
    client.force_login(staff.user)
    counter = reverse("portal:counter", args=[staff.merchant.slug])

    with queries_per_database() as queries:
        assert client.get(counter).status_code == 200
        # Fresh submission ids: the counter keeps each for a while in the shared cache (Redis).
        client.post(counter, {"code": voucher.code, "submission": uuid.uuid4().hex, "check": "1"})
        client.post(counter, {"code": voucher.code, "submission": uuid.uuid4().hex, "redeem": "1"})

    assert Redemption.objects.filter(voucher=voucher).exists()
    assert queries.replica.captured_queries == []
