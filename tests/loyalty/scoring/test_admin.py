"""The operator console: what operators see, and appeal and dispute decisions going through
their services."""

import pytest
from django.utils import timezone

from loyalty.members.models import Dimension
from loyalty.scoring.models import (
    AppealStatus,
    DisputeChange,
    DisputeStatus,
    EventKind,
    HoldAction,
    HoldStatus,
    ScoreEvent,
)
from loyalty.scoring.services import (
    ScoreEventInput,
    dispute_confirm,
    dispute_open,
    hold_appeal,
    score_events_record,
    score_recompute,
)
from tests.factories import HoldFactory, JoinedMemberFactory

pytestmark = pytest.mark.django_db


def test_a_members_page_shows_score_tier_history_and_reasons(admin_client):
    member = JoinedMemberFactory.create(consents=[Dimension.PAYMENT_HISTORY])
    score_recompute(member_ids=[member.pk])

    page = admin_client.get(f"/admin/members/member/{member.pk}/change/").content.decode()

    assert "500" in page
    assert "Starter" in page
    assert "starting_score" in page
    assert "consent history" in page.lower()


def test_the_appeals_queue_lists_open_appeals_and_a_decision_lifts_the_hold(admin_client, admin_user):
    hold = HoldFactory.create()
    appeal = hold_appeal(hold=hold, member=hold.member, text="I returned the car undamaged; see my photos.")

    queue = admin_client.get("/admin/scoring/holdappeal/").content.decode()
    response = admin_client.post(
        f"/admin/scoring/holdappeal/{appeal.pk}/change/",
        {"decision": "uphold", "decision_note": "The photos show no damage."},
    )

    assert hold.ref in queue
    assert response.status_code == 302
    appeal.refresh_from_db()
    hold.refresh_from_db()
    assert (appeal.status, appeal.decided_by) == (AppealStatus.UPHELD, admin_user)
    assert hold.status == HoldStatus.LIFTED
    assert hold.audit.filter(
        action=HoldAction.APPEAL_UPHELD, actor=f"operator {admin_user.username}"
    ).exists()


def test_a_decision_needs_a_reason(admin_client):
    hold = HoldFactory.create()
    appeal = hold_appeal(hold=hold, member=hold.member, text="I returned the car undamaged; see my photos.")

    response = admin_client.post(
        f"/admin/scoring/holdappeal/{appeal.pk}/change/", {"decision": "reject", "decision_note": " "}
    )

    assert response.status_code == 200
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN


def test_event_kinds_show_the_engine_weights_and_keep_impact_read_only(admin_client):
    kind = EventKind.objects.get(code="payment_missed")

    listing = admin_client.get("/admin/scoring/eventkind/").content.decode()
    admin_client.post(
        f"/admin/scoring/eventkind/{kind.pk}/change/", {"label": "Missed", "label_zh": "逾期", "impact": 90}
    )

    assert "engine version 1" in listing
    assert "1095" in listing
    kind.refresh_from_db()
    assert (kind.impact, kind.label) == (-40, "Missed")


def test_holds_and_history_cannot_be_edited_or_deleted_in_the_console(admin_client):
    hold = HoldFactory.create()

    assert admin_client.get(f"/admin/scoring/hold/{hold.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/scoring/hold/{hold.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/scoring/hold/add/").status_code == 403


def _disputed(merchant_ref: str = "mch_0000000000000000000a"):
    member = JoinedMemberFactory.create()
    score_events_record(
        source=merchant_ref, events=[ScoreEventInput("INV-9", member.pk, "payment_missed", timezone.now())]
    )
    event = ScoreEvent.objects.get(external_id="INV-9")
    dispute = dispute_open(
        member=member, event_id=event.pk, reason="Paid in cash at the branch, receipt kept."
    )
    dispute_confirm(merchant_ref=merchant_ref, external_id="INV-9", evidence="No payment in our ledger.")
    return dispute


def _decision(dispute, decision: str, note: str) -> dict[str, object]:
    rows = DisputeChange.objects.filter(dispute=dispute).count()
    return {
        "decision": decision,
        "decision_note": note,
        "history-TOTAL_FORMS": rows,
        "history-INITIAL_FORMS": rows,
    }


def test_the_disputes_queue_lists_confirmed_ones_and_an_operator_decides(admin_client, admin_user):
    dispute = _disputed()

    queue = admin_client.get("/admin/scoring/dispute/").content.decode()
    page = admin_client.get(f"/admin/scoring/dispute/{dispute.pk}/change/").content.decode()
    response = admin_client.post(
        f"/admin/scoring/dispute/{dispute.pk}/change/",
        _decision(dispute, "overturn", "The receipt is genuine."),
    )

    assert "INV-9" in queue
    assert "No payment in our ledger." in page
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decided_by, dispute.decision_note) == (
        DisputeStatus.OVERTURNED,
        admin_user,
        "The receipt is genuine.",
    )
    assert (
        DisputeChange.objects.filter(dispute=dispute).latest("at", "id").actor
        == f"operator:{admin_user.username}"
    )


def test_a_dispute_decision_needs_a_reason_and_history_cannot_be_changed(admin_client):
    dispute = _disputed()

    response = admin_client.post(
        f"/admin/scoring/dispute/{dispute.pk}/change/", _decision(dispute, "uphold", " ")
    )

    assert response.status_code == 200
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.CONFIRMED
    assert admin_client.get("/admin/scoring/dispute/add/").status_code == 403
    assert admin_client.post(f"/admin/scoring/dispute/{dispute.pk}/delete/").status_code == 403
