"""Scoring with the broker down: what was committed stays, the sends that could not be made
are warnings, and the recomputation sweep does the work once the broker is back."""

import logging
from itertools import count

import pytest
from django.core.cache import cache
from django.utils import timezone

from loyalty.members.models import Dimension
from loyalty.scoring.models import MemberStanding, RecomputeRequest
from loyalty.scoring.services import ScoreEventInput, score_events_record, score_recompute
from loyalty.scoring.services.recompute import DEBOUNCE_KEY
from loyalty.scoring.tasks import recompute_pending
from perks.vouchers.campaigns.tasks import vouchers_auto_issue_task
from tests.factories import MERCHANT_REF, JoinedMemberFactory
from tests.support.celery import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)
ids = count()


def _record(member, kind, times):
    events = [ScoreEventInput(f"down{next(ids)}", member.pk, kind, timezone.now()) for _ in range(times)]
    score_events_record(source=MERCHANT_REF, events=events)


def test_events_recorded_with_the_broker_down_are_recomputed_by_the_sweep(caplog):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    cache.delete(DEBOUNCE_KEY)
    caplog.set_level(logging.WARNING)

    with broker_unreachable():
        _record(member, "payment_on_time", 5)

    assert RecomputeRequest.objects.filter(member=member).exists()
    assert [(r.name, r.levelno) for r in caplog.records] == [("loyalty.core.tasks", logging.WARNING)]
    assert recompute_pending.name in caplog.text
    # Not left debounced: the next request, with the broker back, queues the task at once.
    assert cache.get(DEBOUNCE_KEY) is None

    recompute_pending()  # beat's sweep

    assert not RecomputeRequest.objects.exists()
    assert MemberStanding.objects.get(member=member).score > 500


def test_a_tier_change_with_the_broker_down_stays_and_its_auto_issue_is_a_warning(caplog):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY, Dimension.FULFILMENT])
    _record(member, "payment_on_time", 12)
    _record(member, "rental_returned_on_time", 8)
    caplog.set_level(logging.WARNING)
    caplog.clear()

    with broker_unreachable():
        score_recompute(member_ids=[member.pk])

    assert MemberStanding.objects.get(member=member).tier.slug == "diamond"
    assert [(r.name, r.levelno) for r in caplog.records] == [("loyalty.core.tasks", logging.WARNING)]
    assert vouchers_auto_issue_task.name in caplog.text
