from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.core.events import merchant_notified
from loyalty.members.models import Notification
from loyalty.scoring.errors import AppealNotOpen, AppealOpen, HoldExists, HoldNotActive, HoldNotFound
from loyalty.scoring.models import (
    AppealStatus,
    Hold,
    HoldAction,
    HoldAppeal,
    HoldCategory,
    HoldEnd,
    HoldStatus,
)
from loyalty.scoring.selectors import (
    hold_lift_terms,
    hold_of_merchant,
    hold_recent_exists,
    hold_state,
    holds_active,
    holds_of_member,
    holds_of_merchant,
)
from loyalty.scoring.services import (
    ScoreEventInput,
    hold_appeal,
    hold_appeal_decide,
    hold_lift,
    holds_expire,
    holds_lift_by_obligation,
    score_events_record,
)
from tests.factories import MERCHANT_REF, OTHER_MERCHANT_REF, HoldFactory, JoinedMemberFactory, UserFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db
START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def actions(hold):
    return list(hold.audit.order_by("id").values_list("action", flat=True))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def operator():
    return UserFactory.create(is_staff=True, is_superuser=True)


@pytest.fixture
def told():
    """What the loyalty side told merchants, as (merchant ref, type, data)."""
    heard = []

    def listen(sender, *, merchant_ref, type, data, **kwargs):
        heard.append((merchant_ref, type, data))

    merchant_notified.connect(listen, dispatch_uid="tests.holds.told")
    yield heard
    merchant_notified.disconnect(dispatch_uid="tests.holds.told")


def test_placing_a_hold_records_who_why_and_how_to_lift_it_and_tells_the_member():
    hold = HoldFactory.create()

    assert hold.status == HoldStatus.ACTIVE
    assert hold.ref.startswith("hld_")
    assert actions(hold) == [HoldAction.PLACED]
    assert hold.audit.get().actor == f"merchant {MERCHANT_REF}"
    assert Notification.objects.filter(member=hold.member, kind="hold_placed").count() == 1


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"expires_at": timezone.now() + timedelta(days=181)}, "expires_at"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expires_at"),
        ({"category": "everything"}, "category"),
        ({"reason_code": "we_said_so"}, "reason_code"),
        ({"evidence": " ", "detail": ""}, "detail"),
        ({"detail": "x" * 2001}, "detail"),
        ({"lift_on": "payday"}, "lift_on"),
        ({"obligation_ref": "x" * 256}, "obligation_ref"),
        ({"merchant_ref": "swift"}, "merchant_ref"),
    ],
)
def test_a_hold_without_due_process_is_refused(change, param):
    with pytest.raises(Invalid) as refused:
        HoldFactory.create(**change)

    assert refused.value.param == param
    assert not Hold.objects.exists()


def test_the_database_refuses_a_hold_longer_than_180_days_too():
    member = JoinedMemberFactory.create()
    now = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        Hold.objects.create(
            member=member,
            merchant_ref=MERCHANT_REF,
            merchant_name="Swift",
            category=HoldCategory.ALL,
            reason_code="unpaid_balance",
            evidence="x",
            lift_condition="y",
            obligation_ref="z",
            placed_at=now,
            expires_at=now + timedelta(days=181),
        )


def test_one_active_hold_per_obligation():
    hold = HoldFactory.create(obligation_ref="INV-7")

    with pytest.raises(HoldExists):
        HoldFactory.create(member=hold.member, obligation_ref="INV-7")
    hold_lift(hold=hold, merchant_ref=MERCHANT_REF)
    HoldFactory.create(member=hold.member, obligation_ref="INV-7")


def test_the_merchant_lifts_its_hold_once_and_another_merchant_cannot_see_it():
    hold = HoldFactory.create()

    with pytest.raises(HoldNotFound):
        hold_lift(hold=hold, merchant_ref=OTHER_MERCHANT_REF)
    with pytest.raises(HoldNotFound):
        hold_of_merchant(merchant_ref=OTHER_MERCHANT_REF, ref=hold.ref)
    assert not holds_of_merchant(merchant_ref=OTHER_MERCHANT_REF).exists()

    lifted = hold_lift(hold=hold, merchant_ref=MERCHANT_REF, note="Paid at the counter.")
    with pytest.raises(HoldNotActive):
        hold_lift(hold=hold, merchant_ref=MERCHANT_REF)

    assert (lifted.status, lifted.lifted_how) == (HoldStatus.LIFTED, HoldEnd.MERCHANT)
    assert actions(hold) == [HoldAction.PLACED, HoldAction.LIFTED]


def test_a_hold_suspends_only_its_merchants_perks_of_its_category():
    hold = HoldFactory.create(category=HoldCategory.DEPOSIT_WAIVER)
    member = hold.member

    assert list(holds_active(member=member, merchant_ref=MERCHANT_REF, category="deposit_waiver")) == [hold]
    assert not holds_active(member=member, merchant_ref=MERCHANT_REF, category="fx_margin").exists()
    assert not holds_active(
        member=member, merchant_ref=OTHER_MERCHANT_REF, category="deposit_waiver"
    ).exists()


def test_a_hold_of_all_categories_suspends_every_perk_of_that_merchant():
    hold = HoldFactory.create(category=HoldCategory.ALL)

    for category in ("deposit_waiver", "fx_margin", "access_pass", "free_item", "discount"):
        assert holds_active(member=hold.member, merchant_ref=MERCHANT_REF, category=category).exists()


def test_a_hold_ends_at_its_expiry_even_before_the_job_runs_and_the_job_records_it(clock):
    hold = HoldFactory.create(expires_at=START + timedelta(days=10))
    member = hold.member

    clock.move_to(START + timedelta(days=10, seconds=1))
    assert not holds_active(member=member, merchant_ref=MERCHANT_REF, category=hold.category).exists()
    assert holds_expire() == 1
    assert holds_expire() == 0

    hold.refresh_from_db()
    assert (hold.status, hold.lifted_how, hold.lifted_at) == (
        HoldStatus.EXPIRED,
        HoldEnd.EXPIRY,
        hold.expires_at,
    )
    assert actions(hold) == [HoldAction.PLACED, HoldAction.EXPIRED]
    assert Notification.objects.filter(member=member, kind="hold_expired").count() == 1


def test_expiry_leaves_holds_that_still_run(clock):
    due = HoldFactory.create(expires_at=START + timedelta(days=1))
    running = HoldFactory.create(member=due.member, expires_at=START + timedelta(days=100))

    clock.move_to(START + timedelta(days=2))
    holds_expire()

    running.refresh_from_db()
    assert running.status == HoldStatus.ACTIVE


def test_an_obligation_settled_event_lifts_the_hold_automatically():
    hold = HoldFactory.create(obligation_ref="INV-88")

    score_events_record(
        source=MERCHANT_REF,
        events=[ScoreEventInput("INV-88", hold.member_id, "obligation_settled", timezone.now())],
    )

    hold.refresh_from_db()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.OBLIGATION_SETTLED)
    assert not holds_active(member=hold.member, merchant_ref=MERCHANT_REF, category=hold.category).exists()


def test_the_member_appeals_and_an_operator_upholds_which_lifts_the_hold(operator):
    hold = HoldFactory.create()
    appeal = hold_appeal(hold=hold, member=hold.member, text="I returned the car undamaged; see my photos.")

    with pytest.raises(AppealOpen):
        hold_appeal(hold=hold, member=hold.member, text="Again, please look at the photos.")
    decided = hold_appeal_decide(appeal=appeal, operator=operator, upheld=True, note="Photos show no damage.")

    hold.refresh_from_db()
    assert (decided.status, decided.decided_by) == (AppealStatus.UPHELD, operator)
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.APPEAL)
    assert actions(hold) == [
        HoldAction.PLACED,
        HoldAction.APPEAL_FILED,
        HoldAction.APPEAL_UPHELD,
        HoldAction.LIFTED,
    ]
    with pytest.raises(AppealNotOpen):
        hold_appeal_decide(appeal=appeal, operator=operator, upheld=False, note="Changed my mind.")


def test_a_rejected_appeal_keeps_the_hold_and_the_member_may_appeal_again(operator):
    hold = HoldFactory.create()
    first = hold_appeal(hold=hold, member=hold.member, text="This is not my invoice at all.")

    hold_appeal_decide(appeal=first, operator=operator, upheld=False, note="Signed rental agreement on file.")
    hold_appeal(
        hold=hold, member=hold.member, text="Here is new evidence: the agreement is not signed by me."
    )

    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert HoldAppeal.objects.filter(hold=hold, status=AppealStatus.OPEN).count() == 1


def test_only_the_member_under_a_hold_may_appeal_it_and_with_a_real_explanation():
    hold = HoldFactory.create()

    with pytest.raises(HoldNotFound):
        hold_appeal(hold=hold, member=JoinedMemberFactory.create(), text="Not mine but let me try.")
    with pytest.raises(Invalid) as refused:
        hold_appeal(hold=hold, member=hold.member, text="no")
    assert refused.value.param == "text"


def test_an_open_appeal_closes_when_the_hold_ends_first():
    hold = HoldFactory.create()
    appeal = hold_appeal(hold=hold, member=hold.member, text="I paid this last week, here is the receipt.")

    hold_lift(hold=hold, merchant_ref=MERCHANT_REF)

    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.CLOSED


def test_the_member_sees_every_hold_with_its_reason_how_to_lift_it_and_its_appeal(clock):
    active = HoldFactory.create()
    ended = HoldFactory.create(
        member=active.member, merchant_ref=OTHER_MERCHANT_REF, merchant_name="FX Corner"
    )
    hold_lift(hold=ended, merchant_ref=OTHER_MERCHANT_REF)
    hold_appeal(hold=active, member=active.member, text="I returned the car undamaged; see my photos.")

    views = {view.hold.ref: view for view in holds_of_member(member=active.member)}

    assert views[active.ref].is_active
    assert not views[active.ref].can_appeal
    appeal = views[active.ref].appeal
    assert appeal is not None
    assert appeal.status == AppealStatus.OPEN
    assert views[active.ref].hold.lift_condition == "Pay invoice INV-88 at any Swift branch or online."
    assert views[active.ref].reason == "Damage not yet paid for"
    assert not views[ended.ref].is_active
    assert not views[ended.ref].can_appeal


def test_a_recent_hold_is_remembered_for_n_days_but_not_one_overturned_on_appeal(clock, operator):
    lifted = HoldFactory.create()
    hold_lift(hold=lifted, merchant_ref=MERCHANT_REF)
    overturned = HoldFactory.create(member=lifted.member, category=HoldCategory.FX_MARGIN)
    appeal = hold_appeal(
        hold=overturned, member=overturned.member, text="The FX desk charged me twice, not once."
    )
    hold_appeal_decide(appeal=appeal, operator=operator, upheld=True, note="Double charge confirmed.")
    member = lifted.member

    clock.move_to(START + timedelta(days=20))

    assert hold_recent_exists(member=member, merchant_ref=MERCHANT_REF, category="deposit_waiver", days=30)
    assert not hold_recent_exists(
        member=member, merchant_ref=MERCHANT_REF, category="deposit_waiver", days=10
    )
    assert not hold_recent_exists(
        member=member, merchant_ref=OTHER_MERCHANT_REF, category="deposit_waiver", days=30
    )
    assert not hold_recent_exists(member=member, merchant_ref=MERCHANT_REF, category="fx_margin", days=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lift_and_an_expiry_racing_end_the_hold_exactly_once():
    hold = HoldFactory.create(expires_at=timezone.now() + timedelta(seconds=2))
    later = timezone.now() + timedelta(seconds=3)

    def contend(index):
        if index % 2:
            return holds_expire(now=later)
        return hold_lift(hold=hold, merchant_ref=MERCHANT_REF, now=hold.placed_at + timedelta(seconds=1))

    outcomes = race(contend, threads=4)

    hold.refresh_from_db()
    assert hold.status != HoldStatus.ACTIVE
    assert hold.audit.exclude(action=HoldAction.PLACED).count() == 1
    ended = [o for o in outcomes if o.ok and (o.value == 1 or isinstance(o.value, Hold))]
    assert len(ended) == 1
    assert all(isinstance(o.error, HoldNotActive) for o in outcomes if not o.ok)


def test_a_settlement_naming_an_obligation_lifts_the_hold_placed_with_it_and_no_other():
    named = HoldFactory.create(obligation_ref="RA-1")
    waiting = HoldFactory.create(
        member=named.member, obligation_ref="RA-2", lift_on=HoldEnd.OBLIGATION_SETTLED
    )
    elsewhere = HoldFactory.create(
        member=named.member, merchant_ref=OTHER_MERCHANT_REF, obligation_ref="RA-1"
    )

    lifted = holds_lift_by_obligation(merchant_ref=MERCHANT_REF, settlements=[(named.member_id, "RA-1")])

    assert lifted == 1
    for hold in (named, waiting, elsewhere):
        hold.refresh_from_db()
    assert (named.status, named.lifted_how) == (HoldStatus.LIFTED, HoldEnd.OBLIGATION_SETTLED)
    assert waiting.status == elsewhere.status == HoldStatus.ACTIVE


def test_a_settlement_naming_no_obligation_lifts_the_merchants_holds_that_wait_for_one():
    waiting = HoldFactory.create(lift_on=HoldEnd.OBLIGATION_SETTLED, obligation_ref="")
    waiting_too = HoldFactory.create(member=waiting.member, lift_on=HoldEnd.OBLIGATION_SETTLED)
    not_waiting = HoldFactory.create(member=waiting.member)
    other_member = HoldFactory.create(lift_on=HoldEnd.OBLIGATION_SETTLED)
    other_merchant = HoldFactory.create(
        member=waiting.member, merchant_ref=OTHER_MERCHANT_REF, lift_on=HoldEnd.OBLIGATION_SETTLED
    )

    lifted = holds_lift_by_obligation(merchant_ref=MERCHANT_REF, settlements=[(waiting.member_id, None)])

    assert lifted == 2
    states = {hold.ref: hold.status for hold in Hold.objects.all()}
    assert states[waiting.ref] == states[waiting_too.ref] == HoldStatus.LIFTED
    assert (
        states[not_waiting.ref] == states[other_member.ref] == states[other_merchant.ref] == HoldStatus.ACTIVE
    )
    assert holds_lift_by_obligation(merchant_ref=MERCHANT_REF, settlements=[]) == 0


def test_a_settlement_leaves_a_hold_past_its_expiry_to_the_expiry_job(clock):
    hold = HoldFactory.create(expires_at=START + timedelta(days=1), lift_on=HoldEnd.OBLIGATION_SETTLED)

    clock.move_to(START + timedelta(days=2))

    assert holds_lift_by_obligation(merchant_ref=MERCHANT_REF, settlements=[(hold.member_id, None)]) == 0
    assert actions(hold) == [HoldAction.PLACED]


def test_one_active_hold_without_an_obligation_per_member_and_merchant():
    hold = HoldFactory.create(obligation_ref="")

    with pytest.raises(HoldExists) as refused:
        HoldFactory.create(member=hold.member, obligation_ref="")
    assert "obligation_ref" in refused.value.message
    HoldFactory.create(member=hold.member, obligation_ref="", merchant_ref=OTHER_MERCHANT_REF)


def test_the_member_is_told_why_how_to_lift_it_and_until_when():
    hold = HoldFactory.create(
        reason_code="unreturned_rental",
        detail="The car of rental RA-7 is ten days late.",
        evidence="",
        lift_condition="",
        obligation_ref="RA-7",
        lift_on=HoldEnd.OBLIGATION_SETTLED,
    )

    params = Notification.objects.get(member=hold.member, kind="hold_placed").params
    assert params == {
        "hold": hold.ref,
        "merchant": "Swift Car Rental",
        "category": "deposit_waiver",
        "reason_code": "unreturned_rental",
        "lift_condition": "",
        "lift_on": "obligation_settled",
        "obligation_ref": "RA-7",
        "expires_at": hold.expires_at.isoformat(),
    }
    assert hold.detail == "The car of rental RA-7 is ten days late."


@pytest.mark.parametrize(
    ("lift_condition", "lift_on", "obligation_ref", "says"),
    [
        ("Bring the car back to any branch.", "", "RA-7", "Bring the car back to any branch."),
        ("", "", "RA-7", "Settle RA-7 with Swift; the hold is lifted once they report it settled."),
        (
            "",
            "obligation_settled",
            "",
            "Settle what you owe Swift; the hold is lifted once they report it settled.",
        ),
        ("", "", "", "Resolve the matter with Swift, who lifts the hold once it is resolved."),
    ],
)
def test_the_member_reads_how_to_lift_a_hold_whether_or_not_the_merchant_wrote_it(
    lift_condition, lift_on, obligation_ref, says
):
    terms = hold_lift_terms(
        lift_condition=lift_condition, lift_on=lift_on, obligation_ref=obligation_ref, merchant_name="Swift"
    )

    assert terms == says


def test_the_merchant_hears_of_an_appeal_and_of_each_end_with_the_holds_status(clock, operator, told):
    lifted, settled, expiring, overturned = (
        HoldFactory.create(),
        HoldFactory.create(lift_on=HoldEnd.OBLIGATION_SETTLED),
        HoldFactory.create(expires_at=START + timedelta(days=1)),
        HoldFactory.create(),
    )
    assert told == []

    appeal = hold_appeal(hold=lifted, member=lifted.member, text="I brought the car back on time.")
    hold_lift(hold=lifted, merchant_ref=MERCHANT_REF)
    holds_lift_by_obligation(merchant_ref=MERCHANT_REF, settlements=[(settled.member_id, None)])
    upheld = hold_appeal(hold=overturned, member=overturned.member, text="This invoice was paid twice.")
    hold_appeal_decide(appeal=upheld, operator=operator, upheld=True, note="Paid twice indeed.")
    clock.move_to(START + timedelta(days=2))
    holds_expire()

    heard = [
        (type, data["id"], data["status"], (data["appeal"] or {}).get("status")) for _, type, data in told
    ]
    assert heard == [
        ("hold.appealed", lifted.ref, "active", "open"),
        ("hold.resolved", lifted.ref, "lifted", "closed"),
        ("hold.resolved", settled.ref, "lifted", None),
        ("hold.appealed", overturned.ref, "active", "open"),
        ("hold.resolved", overturned.ref, "overturned", "upheld"),
        ("hold.resolved", expiring.ref, "expired", None),
    ]
    assert {merchant for merchant, _, _ in told} == {MERCHANT_REF}
    _, _, data = told[0]
    assert data["member"] == lifted.member.ref
    assert data["reason_code"] == lifted.reason_code
    assert data["expires_at"] == lifted.expires_at.isoformat()
    assert data["appeal"]["filed_at"] == appeal.filed_at.isoformat()


def test_a_rejected_appeal_tells_the_merchant_nothing_more(operator, told):
    hold = HoldFactory.create()
    appeal = hold_appeal(hold=hold, member=hold.member, text="This is not my invoice at all.")

    hold_appeal_decide(appeal=appeal, operator=operator, upheld=False, note="Signed agreement on file.")

    assert [type for _, type, _ in told] == ["hold.appealed"]


def test_the_merchant_reads_its_holds_by_status_those_in_force_first(clock, operator):
    older_active = HoldFactory.create()
    clock.shift(timedelta(minutes=1))
    lifted = HoldFactory.create(member=older_active.member)
    hold_lift(hold=lifted, merchant_ref=MERCHANT_REF)
    clock.shift(timedelta(minutes=1))
    overturned = HoldFactory.create(member=older_active.member)
    appeal = hold_appeal(hold=overturned, member=overturned.member, text="This invoice was paid twice.")
    hold_appeal_decide(appeal=appeal, operator=operator, upheld=True, note="Paid twice indeed.")
    clock.shift(timedelta(minutes=1))
    lapsed = HoldFactory.create(member=older_active.member, expires_at=START + timedelta(days=1))
    clock.shift(timedelta(minutes=1))
    newest_active = HoldFactory.create(member=older_active.member)
    clock.move_to(START + timedelta(days=2))  # `lapsed` is past its expiry; the job has not run

    def refs(**options):
        return [hold.ref for hold in holds_of_merchant(merchant_ref=MERCHANT_REF, **options)]

    assert refs() == [newest_active.ref, lapsed.ref, overturned.ref, lifted.ref, older_active.ref]
    assert refs(active_first=True) == [
        newest_active.ref,
        older_active.ref,
        lapsed.ref,
        overturned.ref,
        lifted.ref,
    ]
    assert refs(state="active") == [newest_active.ref, older_active.ref]
    assert refs(state="expired") == [lapsed.ref]
    assert refs(state="overturned") == [overturned.ref]
    assert refs(state="lifted") == [lifted.ref]
    assert [hold_state(hold) for hold in holds_of_merchant(merchant_ref=MERCHANT_REF)] == [
        "active",
        "expired",
        "overturned",
        "lifted",
        "active",
    ]
    with pytest.raises(Invalid):
        refs(state="paused")
