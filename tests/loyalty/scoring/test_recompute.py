import time
from itertools import count

import pytest
from django.core.cache import cache
from django.utils import timezone

from loyalty.members.models import ConsentChange, ConsentSource, Dimension, Member
from loyalty.members.services import consent_set
from loyalty.scoring.events import tier_changed
from loyalty.scoring.models import (
    MemberStanding,
    RecomputeCause,
    RecomputeRequest,
    ScoreSnapshot,
    TierChange,
    TierChangeCause,
)
from loyalty.scoring.selectors import snapshot_latest
from loyalty.scoring.services import (
    ScoreEventInput,
    score_events_record,
    score_recompute,
    score_recompute_pending,
)
from loyalty.scoring.services.recompute import DEBOUNCE_KEY
from tests.factories import MERCHANT_REF, HoldFactory, JoinedMemberFactory

pytestmark = pytest.mark.django_db
ids = count()


def record(member, kind, times=1):
    events = [ScoreEventInput(f"e{next(ids)}", member.pk, kind, timezone.now()) for _ in range(times)]
    score_events_record(source=MERCHANT_REF, events=events)


def latest(member: Member) -> ScoreSnapshot:
    snapshot = snapshot_latest(member=member)
    assert snapshot is not None
    return snapshot


@pytest.fixture
def heard():
    notices = []

    def listen(sender, **kwargs):
        notices.append(kwargs)

    tier_changed.connect(listen, weak=False)
    yield notices
    tier_changed.disconnect(listen)


def test_a_new_member_starts_at_the_baseline_with_a_snapshot_and_a_tier(
    django_capture_on_commit_callbacks, heard
):
    with django_capture_on_commit_callbacks(execute=True):
        member = JoinedMemberFactory.create()

    standing = MemberStanding.objects.get(member=member)
    snapshot = latest(member)
    assert (standing.score, standing.tier.slug) == (500, "starter")
    assert (snapshot.score, snapshot.cause) == (500, RecomputeCause.JOINED)
    assert all(value is None for value in snapshot.contributions_milli().values())
    assert TierChange.objects.get(member=member).cause == TierChangeCause.JOINED
    assert [(n["member_id"], n["previous_tier"], n["tier"]) for n in heard] == [(member.pk, None, "starter")]


def test_shared_events_raise_the_score_once_the_queue_is_drained():
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    record(member, "payment_on_time", 6)

    assert MemberStanding.objects.get(member=member).score == 500
    assert score_recompute_pending() > 0

    snapshot = latest(member)
    assert snapshot.score > 500
    assert snapshot.cause == RecomputeCause.CONSENT  # it asked first, with the events
    assert MemberStanding.objects.get(member=member).score == snapshot.score
    assert not RecomputeRequest.objects.exists()
    assert score_recompute_pending() == 0


def test_events_of_a_dimension_not_shared_do_not_count_until_it_is_shared():
    member = JoinedMemberFactory.create()
    record(member, "rental_returned_on_time", 4)
    score_recompute_pending()
    assert MemberStanding.objects.get(member=member).score == 500

    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source=ConsentSource.APP)
    score_recompute_pending()

    assert MemberStanding.objects.get(member=member).score > 500


def test_withdrawing_consent_takes_that_dimension_out_of_the_next_score_and_keeps_the_history():
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    record(member, "payment_missed", 2)
    score_recompute_pending()
    assert MemberStanding.objects.get(member=member).score < 500

    consent_set(member=member, dimension=Dimension.PAYMENT_HISTORY, granted=False, source=ConsentSource.APP)
    score_recompute_pending()

    assert MemberStanding.objects.get(member=member).score == 500
    assert latest(member).payment_history_sum is None
    assert list(ConsentChange.objects.filter(member=member).values_list("granted", "source")) == [
        (True, ConsentSource.SIGNUP),
        (False, ConsentSource.APP),
    ]


def test_choosing_the_same_again_writes_no_history_and_queues_nothing():
    member = JoinedMemberFactory.create(consents=[Dimension.TENURE])
    RecomputeRequest.objects.all().delete()

    consent_set(member=member, dimension=Dimension.TENURE, granted=True, source=ConsentSource.APP)

    assert ConsentChange.objects.filter(member=member).count() == 1
    assert not RecomputeRequest.objects.exists()


def test_draining_takes_a_limited_batch_and_leaves_the_rest():
    members = [JoinedMemberFactory.create() for _ in range(3)]
    RecomputeRequest.objects.all().delete()
    for member in members:
        record(member, "purchase")

    assert score_recompute_pending(limit=2) == 2
    assert RecomputeRequest.objects.count() == 1
    assert score_recompute_pending(limit=2) == 1


def test_a_recomputation_always_writes_a_snapshot_with_the_engine_version():
    member = JoinedMemberFactory.create()

    score_recompute(member_ids=[member.pk, member.pk])

    snapshots = ScoreSnapshot.objects.filter(member=member).order_by("id")
    assert [s.cause for s in snapshots] == [RecomputeCause.JOINED, RecomputeCause.REQUESTED]
    assert latest(member).engine_version == 1


def test_a_tier_change_is_announced_after_commit_only(django_capture_on_commit_callbacks, heard):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT])
    record(member, "payment_on_time", 12)
    record(member, "rental_returned_on_time", 8)
    heard.clear()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        score_recompute(member_ids=[member.pk])
        assert heard == []
    for callback in callbacks:
        callback()

    standing = MemberStanding.objects.get(member=member)
    assert [(n["member_id"], n["previous_tier"], n["tier"]) for n in heard] == [
        (member.pk, "starter", standing.tier.slug)
    ]
    assert standing.tier.slug == "diamond"
    assert TierChange.objects.filter(member=member, cause=TierChangeCause.UPGRADE).count() == 1


def test_a_hold_does_not_change_the_score():
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    record(member, "payment_on_time", 3)
    score_recompute(member_ids=[member.pk])
    before = MemberStanding.objects.get(member=member).score

    HoldFactory.create(member=member)
    score_recompute(member_ids=[member.pk])

    assert MemberStanding.objects.get(member=member).score == before


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_recomputes_the_members_whose_events_arrived(celery_worker, settings):
    settings.SCORE_RECOMPUTE_DEBOUNCE_SECONDS = 0
    cache.delete(DEBOUNCE_KEY)
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])

    record(member, "payment_on_time", 5)

    deadline = time.monotonic() + 30
    while MemberStanding.objects.get(member=member).score == 500 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert MemberStanding.objects.get(member=member).score > 500
    while RecomputeRequest.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not RecomputeRequest.objects.exists()
