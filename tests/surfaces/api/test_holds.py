"""POST /holds, GET /holds, GET /holds/{id}, POST /holds/{id}/lift."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from loyalty.members.models import LinkStart, MerchantLink, Notification
from loyalty.members.services import link_end, link_start
from loyalty.scoring.models import Hold, HoldCategory, HoldEnd, HoldStatus
from loyalty.scoring.services import hold_appeal, hold_appeal_decide, holds_expire
from perks.merchants.models import AuditEntry, WebhookEvent
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher
from tests.factories import JoinedMemberFactory, PerkFactory, UserFactory
from tests.factories.vouchers import VoucherFactory
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DETAIL = "Rental RA-7 was due back on 28 April; the car has not been returned."
HOLD_FIELDS = {"id", "member", "reason_code", "status", "expires_at", "appeal"}


def linked(partner, member=None):
    member = member or JoinedMemberFactory.create()
    link_start(
        member=member,
        merchant_ref=partner.merchant.ref,
        merchant_name=partner.merchant.name,
        how=LinkStart.SHARING,
    )
    return member


@pytest.fixture
def member(partner):
    return linked(partner)


def body(member, **changes):
    return {
        "member": member.ref,
        "reason_code": "unreturned_rental",
        "detail": DETAIL,
        "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
        **changes,
    }


def place(partner, member, **changes):
    response = partner.post("/holds", body(member, **changes))
    assert response.status_code == 201, response.content
    return response.json()


def test_a_hold_on_a_linked_member_is_placed_and_the_member_is_told_at_once(partner, member):
    expires_at = timezone.now() + timedelta(days=60)

    held = place(
        partner,
        member,
        expires_at=expires_at.isoformat(),
        evidence="Rental agreement RA-7, signed 21 April.",
        lift_on="obligation_settled",
        obligation_ref="RA-7",
        perk_type="deposit_waiver",
    )

    hold = Hold.objects.get()
    assert held["id"] == hold.ref
    assert held["id"].startswith("hld_")
    assert set(held) >= HOLD_FIELDS
    assert (held["member"], held["reason_code"], held["status"], held["appeal"]) == (
        member.ref,
        "unreturned_rental",
        "active",
        None,
    )
    assert datetime.fromisoformat(held["expires_at"]) == expires_at
    assert (held["perk_type"], held["lift_on"], held["obligation_ref"]) == (
        "deposit_waiver",
        "obligation_settled",
        "RA-7",
    )
    assert (hold.merchant_ref, hold.category, hold.detail) == (
        partner.merchant.ref,
        HoldCategory.DEPOSIT_WAIVER,
        DETAIL,
    )
    told = Notification.objects.get(member=member, kind="hold_placed")
    assert (told.params["reason_code"], told.params["obligation_ref"], told.params["lift_on"]) == (
        "unreturned_rental",
        "RA-7",
        "obligation_settled",
    )
    audit = AuditEntry.objects.get(merchant=partner.merchant, action="hold.placed")
    assert audit.actor_key is not None
    assert (audit.target, audit.actor_key.merchant) == (hold.ref, partner.merchant)


def test_without_a_perk_type_every_perk_of_the_merchant_is_held(partner, member):
    held = place(partner, member, lift_on=None)

    assert (held["perk_type"], held["lift_on"], held["obligation_ref"]) == (None, None, None)
    assert Hold.objects.get().category == HoldCategory.ALL


def test_a_member_without_an_active_link_is_not_found(partner, other_partner):
    stranger = JoinedMemberFactory.create()
    theirs = linked(other_partner)
    gone = linked(partner)
    link_end(member=gone, link_id=MerchantLink.objects.get(member=gone).pk)

    for who in (stranger.ref, theirs.ref, gone.ref, "mem_" + "0" * 20):
        assert_error(partner.post("/holds", {**body(stranger), "member": who}), 404, "not_found", "member")
    assert not Hold.objects.exists()
    assert not Notification.objects.filter(kind="hold_placed").exists()


@pytest.mark.parametrize(
    ("after", "placed"),
    [
        (timedelta(days=180), True),
        (timedelta(days=180, seconds=1), False),
        (timedelta(days=365), False),
        (timedelta(seconds=1), True),
        (timedelta(0), False),
        (-timedelta(days=1), False),
    ],
)
def test_a_hold_expires_in_the_future_and_within_180_days(partner, member, after, placed):
    with time_machine.travel(START, tick=False):
        response = partner.post("/holds", body(member, expires_at=(START + after).isoformat()))

    if placed:
        assert response.status_code == 201, response.content
    else:
        assert_error(response, 400, "validation_error", "expires_at")
        assert not Hold.objects.exists()


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"reason_code": "unpaid_damage"}, "reason_code"),  # the platform's, not a merchant's to give
        ({"reason_code": "we_said_so"}, "reason_code"),
        ({"lift_on": "payday"}, "lift_on"),
        ({"perk_type": "all"}, "perk_type"),
        ({"detail": ""}, "detail"),
        ({"detail": "   "}, "detail"),
        ({"detail": 42}, "detail"),
        ({"obligation_ref": "x" * 256}, "obligation_ref"),
        ({"expires_at": "2026-06-01T00:00:00"}, "expires_at"),
        ({"category": "all"}, "category"),
    ],
)
def test_a_hold_that_breaks_the_contract_is_refused(partner, member, changes, param):
    assert_error(partner.post("/holds", body(member, **changes)), 400, "validation_error", param)
    assert not Hold.objects.exists()


@pytest.mark.parametrize(
    "reason_code", ["unreturned_rental", "unpaid_balance", "damage_claim", "fraud_suspected"]
)
def test_each_reason_of_the_contract_is_accepted(partner, member, reason_code):
    assert place(partner, member, reason_code=reason_code)["reason_code"] == reason_code


def test_a_second_active_hold_for_the_same_obligation_is_a_conflict(partner, member):
    place(partner, member, obligation_ref="INV-9")

    assert_error(partner.post("/holds", body(member, obligation_ref="INV-9")), 409, "hold_exists")
    place(partner, member, obligation_ref="INV-10")
    assert Hold.objects.count() == 2


def test_placing_and_lifting_need_the_holds_write_scope_and_reading_does_not(
    partner, read_only_partner, member
):
    held = place(partner, member)

    assert_error(read_only_partner.post("/holds", body(member)), 403, "permission_denied")
    assert_error(read_only_partner.post(f"/holds/{held['id']}/lift"), 403, "permission_denied")
    assert read_only_partner.get(f"/holds/{held['id']}").json()["status"] == "active"
    assert [h["id"] for h in read_only_partner.get("/holds").json()["data"]] == [held["id"]]


def test_the_merchants_perks_refuse_the_member_while_the_hold_lasts_and_serve_them_after(partner, member):
    discount = PerkFactory.create(
        merchant=partner.merchant, type="discount", params={"percent": "10", "currency": "CNY"}
    )
    coffee = PerkFactory.create(merchant=partner.merchant)
    voucher = VoucherFactory.create(perk=discount, member=member)
    held = place(partner, member, perk_type="discount")

    assert_error(partner.post("/redemptions", {"code": voucher.code}), 422, "member_on_hold")
    assert_error(
        partner.post("/vouchers", {"perk": discount.ref, "member": member.ref}), 422, "member_on_hold"
    )
    assert partner.post("/vouchers", {"perk": coffee.ref, "member": member.ref}).status_code == 201

    lifted = partner.post(f"/holds/{held['id']}/lift")

    assert lifted.status_code == 200, lifted.content
    assert partner.post("/redemptions", {"code": code_format(voucher.code)}).status_code == 201
    assert partner.post("/vouchers", {"perk": discount.ref, "member": member.ref}).status_code == 201


def test_a_hold_of_every_perk_refuses_each_of_them(partner, member):
    coffee = PerkFactory.create(merchant=partner.merchant)
    place(partner, member)

    assert_error(partner.post("/vouchers", {"perk": coffee.ref, "member": member.ref}), 422, "member_on_hold")
    assert not Voucher.objects.exists()


def test_another_merchants_perks_still_serve_the_member(partner, other_partner, member):
    linked(other_partner, member)
    theirs = PerkFactory.create(merchant=other_partner.merchant)
    place(partner, member)

    assert other_partner.post("/vouchers", {"perk": theirs.ref, "member": member.ref}).status_code == 201


def test_lift_answers_the_lifted_hold_once_and_tells_the_merchants_webhooks(partner, member):
    held = place(partner, member)

    response = partner.post(f"/holds/{held['id']}/lift", {"note": "Car returned today."})

    assert response.status_code == 200, response.content
    lifted = response.json()
    assert (lifted["id"], lifted["status"]) == (held["id"], "lifted")
    assert lifted["ended_at"]
    hold = Hold.objects.get()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.MERCHANT)
    assert hold.audit.latest("at", "id").note == "Car returned today."
    assert AuditEntry.objects.filter(
        merchant=partner.merchant, action="hold.lifted", target=hold.ref
    ).exists()
    event = WebhookEvent.objects.get(merchant=partner.merchant, type="hold.resolved")
    assert (event.data["id"], event.data["status"], event.data["member"]) == (hold.ref, "lifted", member.ref)
    assert Notification.objects.filter(member=member, kind="hold_lifted").count() == 1
    assert_error(partner.post(f"/holds/{held['id']}/lift"), 409, "hold_not_active")
    assert WebhookEvent.objects.filter(type="hold.resolved").count() == 1


def test_holds_are_listed_newest_first_by_page(partner, member):
    with time_machine.travel(START, tick=False) as clock:
        placed = []
        for number in range(3):
            placed.append(place(partner, member, obligation_ref=f"INV-{number}")["id"])
            clock.shift(timedelta(minutes=1))
        first = partner.get("/holds", limit=2).json()
        rest = partner.get("/holds", limit=2, starting_after=first["data"][-1]["id"]).json()

    assert [h["id"] for h in first["data"]] == [placed[2], placed[1]]
    assert first["has_more"] is True
    assert [h["id"] for h in rest["data"]] == [placed[0]]
    assert rest["has_more"] is False
    assert_error(partner.get("/holds", limit=101), 400, "validation_error", "limit")
    assert_error(partner.get("/holds", status="active"), 400, "validation_error", "status")


def test_the_merchant_reads_each_state_and_the_appeal(partner, member):
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    with time_machine.travel(START, tick=False) as clock:
        overturned = place(partner, member, obligation_ref="A")
        appealed = place(partner, member, obligation_ref="B")
        expiring = place(
            partner, member, obligation_ref="C", expires_at=(START + timedelta(days=1)).isoformat()
        )
        lifted = place(partner, member, obligation_ref="D")
        partner.post(f"/holds/{lifted['id']}/lift")
        for ref in (overturned["id"], appealed["id"]):
            hold_appeal(
                hold=Hold.objects.get(ref=ref), member=member, text="I returned it on time, see receipt."
            )
        first = Hold.objects.get(ref=overturned["id"]).appeals.get()
        hold_appeal_decide(appeal=first, operator=operator, upheld=True, note="The receipt shows it.")
        clock.move_to(START + timedelta(days=2))
        before_the_job = partner.get(f"/holds/{expiring['id']}").json()["status"]
        holds_expire()
        read = {
            ref: partner.get(f"/holds/{ref}").json() for ref in Hold.objects.values_list("ref", flat=True)
        }

    assert before_the_job == "expired"
    assert read[overturned["id"]]["status"] == "overturned"
    assert read[overturned["id"]]["appeal"]["status"] == "upheld"
    assert read[appealed["id"]]["status"] == "active"
    assert read[appealed["id"]]["appeal"] == {
        "status": "open",
        "filed_at": read[appealed["id"]]["appeal"]["filed_at"],
        "decided_at": None,
    }
    assert read[expiring["id"]]["status"] == "expired"
    assert read[lifted["id"]]["status"] == "lifted"
    appealed_events = WebhookEvent.objects.filter(merchant=partner.merchant, type="hold.appealed")
    assert sorted(event.data["id"] for event in appealed_events) == sorted([overturned["id"], appealed["id"]])
    resolved = {
        event.data["id"]: event.data["status"]
        for event in WebhookEvent.objects.filter(merchant=partner.merchant, type="hold.resolved")
    }
    assert resolved == {overturned["id"]: "overturned", expiring["id"]: "expired", lifted["id"]: "lifted"}


def test_after_the_member_ends_the_link_the_merchant_still_reads_and_lifts_its_hold(partner, member):
    held = place(partner, member)
    link_end(member=member, link_id=MerchantLink.objects.get(member=member).pk)

    assert partner.get(f"/holds/{held['id']}").json()["member"] == member.ref
    assert [h["id"] for h in partner.get("/holds").json()["data"]] == [held["id"]]
    assert_error(partner.post("/holds", body(member, obligation_ref="other")), 404, "not_found", "member")
    response = partner.post(f"/holds/{held['id']}/lift")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "lifted"


def test_another_merchants_hold_is_not_found_nor_listed(partner, other_partner, member):
    theirs = place(other_partner, linked(other_partner, member))

    assert_error(partner.get(f"/holds/{theirs['id']}"), 404, "not_found")
    assert_error(partner.post(f"/holds/{theirs['id']}/lift"), 404, "not_found")
    assert partner.get("/holds").json()["data"] == []
    assert Hold.objects.get().status == HoldStatus.ACTIVE


def _settled(partner, member, event_id, **fields):
    event = {
        "id": event_id,
        "member": member.ref,
        "type": "obligation_settled",
        "occurred_at": timezone.now().isoformat(),
        **fields,
    }
    response = partner.post("/events", {"events": [event]})
    assert response.status_code == 202, response.content


def test_an_obligation_settled_event_lifts_the_hold_it_names_or_those_waiting_for_one(partner, member):
    named = place(partner, member, obligation_ref="RA-7")
    waiting = place(partner, member, obligation_ref="INV-2", lift_on="obligation_settled")
    kept = place(partner, member)

    def states():
        return {
            ref: partner.get(f"/holds/{ref}").json()["status"]
            for ref in (named["id"], waiting["id"], kept["id"])
        }

    _settled(partner, member, "settlement-1", obligation_ref="RA-7")
    assert states() == {named["id"]: "lifted", waiting["id"]: "active", kept["id"]: "active"}

    _settled(partner, member, "settlement-2")
    assert states() == {named["id"]: "lifted", waiting["id"]: "lifted", kept["id"]: "active"}

    resolved = WebhookEvent.objects.filter(merchant=partner.merchant, type="hold.resolved").order_by("id")
    assert [(event.data["id"], event.data["status"]) for event in resolved] == [
        (named["id"], "lifted"),
        (waiting["id"], "lifted"),
    ]
    assert Notification.objects.filter(member=member, kind="hold_lifted").count() == 2
    lifted = Hold.objects.get(ref=waiting["id"])
    assert lifted.lifted_how == HoldEnd.OBLIGATION_SETTLED


def test_another_merchants_settlement_lifts_nothing_of_this_one(partner, other_partner, member):
    held = place(partner, member, obligation_ref="RA-7", lift_on="obligation_settled")
    linked(other_partner, member)

    _settled(other_partner, member, "their-settlement", obligation_ref="RA-7")
    _settled(other_partner, member, "their-other-settlement")

    assert partner.get(f"/holds/{held['id']}").json()["status"] == "active"
