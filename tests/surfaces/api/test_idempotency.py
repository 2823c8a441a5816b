"""Invariant 3: a repeated Idempotency-Key returns the first response and changes nothing."""

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.urls import include, path
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.schedule import BEAT_SCHEDULE
from loyalty.core.errors import Invalid
from perks.catalog.models import Perk
from perks.merchants.models import AuditEntry
from perks.merchants.services import audit_record
from surfaces.api import idempotency
from surfaces.api.idempotency import RETENTION, idempotency_records_purge, request_hash
from surfaces.api.models import IdempotencyRecord
from surfaces.api.views.base import PartnerView
from tests.support.races import race
from tests.surfaces.api.conftest import assert_error, partner_of

PERK = {"type": "free_item", "title": "A free coffee", "params": {"item": "Flat white"}, "status": "active"}
KEY = "7b0e7a52-4d0c-4b8e-9a57-0f3c2f5a9e11"


class Flaky(PartnerView):
    """Fails on our side the first time, works the second: a 500 must not be kept."""

    write_scope = None
    calls = 0

    def post(self, request):
        Flaky.calls += 1
        if Flaky.calls == 1:
            raise RuntimeError("the database went away")
        return Response({"call": Flaky.calls}, status=status.HTTP_201_CREATED)


class Slow(PartnerView):
    """Holds the request open until the test lets it finish: a request still in progress."""

    write_scope = None
    entered = threading.Event()
    release = threading.Event()

    def post(self, request):
        Slow.entered.set()
        assert Slow.release.wait(timeout=30)
        return Response({"done": True}, status=status.HTTP_201_CREATED)


class WritesThenRefuses(PartnerView):
    """Writes, then refuses: the refusal is kept, the write is not."""

    write_scope = None

    def post(self, request):
        audit_record(merchant=self.merchant, actor=self.api_key, action="test.written")
        raise Invalid("Refused after writing.", param="n")


class AnsweredMeanwhile(PartnerView):
    """While it runs, another request stores its answer to the same key and commits: the
    moment between a look-up and the lock that follows it in the same statement."""

    write_scope = None

    def post(self, request):
        audit_record(merchant=self.merchant, actor=self.api_key, action="test.written")
        answer_elsewhere(
            merchant_id=self.merchant.pk,
            key=request.headers["Idempotency-Key"],
            path=request.path,
            fingerprint=request_hash(request),
        )
        return Response({"answered": "here"}, status=status.HTTP_201_CREATED)


def answer_elsewhere(*, merchant_id: int, key: str, path: str, fingerprint: str) -> None:
    """Another request's answer to `key`, stored and committed on a connection of its own."""

    def store() -> None:
        try:
            IdempotencyRecord.objects.create(
                merchant_id=merchant_id,
                key=key,
                request_method="POST",
                request_path=path,
                request_hash=fingerprint,
                response_status=201,
                response_body='{"answered": "elsewhere"}',
            )
        finally:
            connection.close()

    elsewhere = threading.Thread(target=store)
    elsewhere.start()
    elsewhere.join(timeout=30)


urlpatterns = [
    path("api/v1/answered-meanwhile", AnsweredMeanwhile.as_view()),
    path("api/v1/writes-then-refuses", WritesThenRefuses.as_view()),
    path("api/v1/flaky", Flaky.as_view()),
    path("api/v1/slow", Slow.as_view()),
    path("api/v1/", include("surfaces.api.urls")),
]


@pytest.fixture
def test_views(settings):
    settings.ROOT_URLCONF = __name__


@pytest.mark.django_db
def test_a_repeat_returns_the_first_response_and_changes_nothing(partner):
    first = partner.post("/perks", PERK, idempotency_key=KEY)
    again = partner.post("/perks", PERK, idempotency_key=KEY)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Perk.objects.filter(merchant=partner.merchant).count() == 1
    assert AuditEntry.objects.filter(action="perk.created").count() == 1


@pytest.mark.django_db
def test_the_same_body_differently_spaced_or_ordered_is_the_same_request(partner):
    partner.post("/perks", PERK, idempotency_key=KEY)
    reordered = b"""{ "status": "active", "params": {"item": "Flat white"},
                     "title": "A free coffee", "type": "free_item" }"""

    again = partner.post("/perks", raw=reordered, idempotency_key=KEY)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(partner):
    partner.post("/perks", PERK, idempotency_key=KEY)

    response = partner.post("/perks", {**PERK, "title": "Two coffees"}, idempotency_key=KEY)

    error = assert_error(response, 422, "idempotency_key_reused", param="Idempotency-Key")
    assert error["type"] == "invalid_request"
    assert Perk.objects.filter(merchant=partner.merchant).count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_refused(partner):
    partner.post("/perks", PERK, idempotency_key=KEY)

    response = partner.post(
        "/webhook-endpoints",
        {"url": "https://pos.example.com/hooks", "events": ["voucher.redeemed"]},
        idempotency_key=KEY,
    )

    assert_error(response, 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_keys_are_scoped_to_the_merchant(partner, other_partner):
    mine = partner.post("/perks", PERK, idempotency_key=KEY)
    theirs = other_partner.post("/perks", PERK, idempotency_key=KEY)

    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.django_db
def test_another_key_of_the_same_merchant_replays(partner):
    second_key = partner_of(partner.merchant)
    first = partner.post("/perks", PERK, idempotency_key=KEY)

    again = second_key.post("/perks", PERK, idempotency_key=KEY)

    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content


@pytest.mark.django_db
def test_an_error_response_is_kept_and_replayed(partner):
    first = partner.post("/perks", {**PERK, "params": {}}, idempotency_key=KEY)
    again = partner.post("/perks", {**PERK, "params": {}}, idempotency_key=KEY)

    assert_error(first, 400, "validation_error", param="params.item")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_refusal_undoes_what_the_view_wrote_and_is_kept(partner, test_views):
    first = partner.post("/writes-then-refuses", {"n": 1}, idempotency_key=KEY)
    again = partner.post("/writes-then-refuses", {"n": 1}, idempotency_key=KEY)

    assert_error(first, 400, "validation_error", param="n")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert not AuditEntry.objects.filter(action="test.written").exists()
    assert IdempotencyRecord.objects.get().response_status == 400


@pytest.mark.django_db
def test_a_refusal_before_the_view_runs_is_not_kept(read_only_partner):
    """Auth and scope are checked first: after the key gets the scope, the retry runs."""
    full = partner_of(read_only_partner.merchant)

    assert_error(read_only_partner.post("/perks", PERK, idempotency_key=KEY), 403, "permission_denied")
    response = full.post("/perks", PERK, idempotency_key=KEY)

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")


@pytest.mark.django_db
def test_a_server_error_is_not_kept_so_the_retry_runs(partner, test_views):
    Flaky.calls = 0
    assert_error(partner.post("/flaky", {}, idempotency_key=KEY), 500, "internal_error")

    retried = partner.post("/flaky", {}, idempotency_key=KEY)

    assert retried.status_code == 201
    assert retried.json() == {"call": 2}
    assert not retried.has_header("Idempotent-Replayed")
    assert IdempotencyRecord.objects.get().response_status == 201


@pytest.mark.django_db
def test_after_24_hours_the_key_runs_anew(partner):
    partner.post("/perks", PERK, idempotency_key=KEY)

    with time_machine.travel(timezone.now() + RETENTION + timedelta(minutes=1)):
        later = partner.post("/perks", PERK, idempotency_key=KEY)

    assert later.status_code == 201
    assert not later.has_header("Idempotent-Replayed")
    assert Perk.objects.filter(merchant=partner.merchant).count() == 2
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_each_post_runs(partner):
    partner.post("/perks", PERK)
    partner.post("/perks", PERK)

    assert Perk.objects.filter(merchant=partner.merchant).count() == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve", "line\x7f"])
def test_a_malformed_key_is_a_validation_error(partner, key):
    response = partner.post("/perks", PERK, idempotency_key=key)

    assert_error(response, 400, "validation_error", param="Idempotency-Key")
    assert not Perk.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["a", "x" * 255, " ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"])
def test_any_printable_ascii_key_of_1_to_255_is_accepted(partner, key):
    assert partner.post("/perks", PERK, idempotency_key=key).status_code == 201
    assert partner.post("/perks", PERK, idempotency_key=key)["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_records_past_the_window_are_purged_by_beat(partner):
    partner.post("/perks", PERK, idempotency_key="old")
    with time_machine.travel(timezone.now() + timedelta(hours=20)):
        partner.post("/perks", PERK, idempotency_key="recent")

    with time_machine.travel(timezone.now() + RETENTION + timedelta(hours=1)):
        purged = idempotency_records_purge()

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert BEAT_SCHEDULE["idempotency-records-purge"]["task"] == "api.idempotency_records_purge"


@pytest.mark.django_db
def test_the_purge_job_runs_on_a_worker(partner, celery_worker):
    from surfaces.api.tasks import idempotency_records_purge as purge_task

    partner.post("/perks", PERK, idempotency_key=KEY)
    with time_machine.travel(timezone.now() + RETENTION + timedelta(hours=1), tick=True):
        assert purge_task.apply_async(ignore_result=False).get(timeout=30) == 1

    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once(partner):
    """8 identical requests at once: one runs; the rest replay it (SQLite serialises them) or
    get 409 while it runs (PostgreSQL): never a second perk."""
    outcomes = race(lambda _: partner.post("/perks", PERK, idempotency_key=KEY), threads=8)

    responses = [o.value for o in outcomes]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert {r.status_code for r in responses} <= {201, 409}
    originals = [r for r in responses if r.status_code == 201 and not r.has_header("Idempotent-Replayed")]
    assert len(originals) == 1
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "idempotency_request_in_progress")
        else:
            assert response.content == originals[0].content
    assert Perk.objects.filter(merchant=partner.merchant).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_while_the_first_runs_is_409_then_replays(partner, test_views):
    Slow.entered.clear()
    Slow.release.clear()
    first: dict[str, Any] = {}

    def send_first() -> None:
        try:
            first["response"] = partner.post("/slow", {"n": 1}, idempotency_key=KEY)
        finally:
            connection.close()

    sender = threading.Thread(target=send_first)
    sender.start()
    try:
        assert Slow.entered.wait(timeout=30)
        assert_error(
            partner.post("/slow", {"n": 1}, idempotency_key=KEY), 409, "idempotency_request_in_progress"
        )
    finally:
        Slow.release.set()
        sender.join(timeout=30)

    assert first["response"].status_code == 201
    replay = partner.post("/slow", {"n": 1}, idempotency_key=KEY)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first["response"].content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_answer_stored_meanwhile_by_another_request_wins_and_this_one_is_undone(partner, test_views):
    response = partner.post("/answered-meanwhile", {"n": 1}, idempotency_key=KEY)

    assert response.status_code == 201
    assert response.json() == {"answered": "elsewhere"}
    assert response["Idempotent-Replayed"] == "true"
    assert not AuditEntry.objects.filter(action="test.written").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_answer_stored_while_a_refusal_is_being_kept_wins_too(partner, test_views, monkeypatch):
    """The same moment while the refusal is kept, in its own transaction: another request's
    answer is committed after the look-up that took the key's lock."""
    path, body = "/api/v1/writes-then-refuses", {"n": 1}
    same_request = Request(RequestFactory().post(path, body, content_type="application/json"))
    look_up = idempotency._lock_and_record
    look_ups: list[object] = []

    def look_up_then_answer_elsewhere(merchant_id: int, key: str) -> Any:
        found = look_up(merchant_id, key)
        look_ups.append(found)
        if len(look_ups) == 2:  # the refusal's transaction, the lock just taken
            answer_elsewhere(
                merchant_id=merchant_id, key=key, path=path, fingerprint=request_hash(same_request)
            )
        return found

    monkeypatch.setattr(idempotency, "_lock_and_record", look_up_then_answer_elsewhere)
    response = partner.post("/writes-then-refuses", body, idempotency_key=KEY)

    assert response.status_code == 201
    assert response.json() == {"answered": "elsewhere"}
    assert response["Idempotent-Replayed"] == "true"
    assert not AuditEntry.objects.filter(action="test.written").exists()
    assert len(look_ups) == 3
