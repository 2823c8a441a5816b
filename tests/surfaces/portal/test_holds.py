"""Holds in the portal: managers and owners place, follow and lift them under the rules the
partner API keeps; cashiers cannot reach them; another merchant's hold does not exist."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.members.models import Notification
from loyalty.scoring.models import AppealStatus, Hold, HoldCategory, HoldEnd, HoldStatus
from loyalty.scoring.services import hold_appeal, hold_appeal_decide
from perks.merchants.models import AuditEntry
from perks.merchants.permissions import Role
from tests.factories import HoldFactory, JoinedMemberFactory, StaffFactory, UserFactory
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db

DETAIL = "The car of rental RA-7 was due back on 28 April and has not been returned."


@pytest.fixture
def manager(client):
    staff = StaffFactory.create(role=Role.MANAGER)
    client.force_login(staff.user)
    return staff


@pytest.fixture
def member(manager):
    member = JoinedMemberFactory.create()
    linked(member, manager.merchant)
    return member


def _form(who, **changes):
    return {
        "member": who.ref,
        "reason_code": "unreturned_rental",
        "detail": DETAIL,
        "evidence": "Rental agreement RA-7.",
        "expires_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "perk_type": "deposit_waiver",
        "obligation_ref": "RA-7",
        **changes,
    }


def _hold_of(staff, member, **fields):
    merchant = staff.merchant
    return HoldFactory.create(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, **fields)


def test_a_manager_places_a_hold_and_lands_on_its_page(client, manager, member):
    url = reverse("portal:holds", args=[manager.merchant.slug])

    response = client.post(url, _form(member, lift_on="on"))

    hold = Hold.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:hold", args=[manager.merchant.slug, hold.ref])
    assert (hold.merchant_ref, hold.member, hold.category) == (
        manager.merchant.ref,
        member,
        HoldCategory.DEPOSIT_WAIVER,
    )
    assert (hold.detail, hold.obligation_ref, hold.lift_on) == (DETAIL, "RA-7", HoldEnd.OBLIGATION_SETTLED)
    assert timezone.localtime(hold.expires_at).date() == timezone.localdate() + timedelta(days=30)
    assert Notification.objects.filter(member=member, kind="hold_placed").exists()
    entry = AuditEntry.objects.get(merchant=manager.merchant, action="hold.placed")
    assert (entry.target, entry.actor_user) == (hold.ref, manager.user)
    page = client.get(response["Location"]).content.decode()
    assert DETAIL in page
    assert "Lift the hold" in page


def test_without_a_perk_type_the_hold_is_on_every_perk(client, manager, member):
    client.post(reverse("portal:holds", args=[manager.merchant.slug]), _form(member, perk_type=""))

    hold = Hold.objects.get()
    assert (hold.category, hold.lift_on) == (HoldCategory.ALL, "")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires_on": (timezone.localdate() + timedelta(days=181)).isoformat()}, "expires_on"),
        ({"expires_on": timezone.localdate().isoformat()}, "expires_on"),
        ({"member": "mem_" + "0" * 20}, "member"),
        ({"detail": "   "}, "detail"),
        ({"reason_code": "unpaid_damage"}, "reason_code"),
    ],
)
def test_refusals_are_shown_on_the_form(client, manager, member, changes, field):
    response = client.post(reverse("portal:holds", args=[manager.merchant.slug]), _form(member, **changes))

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Hold.objects.exists()


def test_a_member_not_linked_to_this_merchant_cannot_be_held(client, manager):
    stranger, gone = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    linked(stranger, StaffFactory.create().merchant)
    unlinked(gone, manager.merchant)
    url = reverse("portal:holds", args=[manager.merchant.slug])

    for member in (stranger, gone):
        response = client.post(url, _form(member))
        assert "member" in response.context["form"].errors
    assert not Hold.objects.exists()


def test_the_list_puts_holds_in_force_first_filters_by_status_and_shows_appeals(client, manager, member):
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    lifted = _hold_of(manager, member)
    client.post(reverse("portal:hold-lift", args=[manager.merchant.slug, lifted.ref]), {"confirm": "on"})
    overturned = _hold_of(manager, member)
    appeal = hold_appeal(hold=overturned, member=member, text="It was returned on time, see my receipt.")
    hold_appeal_decide(appeal=appeal, operator=operator, upheld=True, note="The receipt shows it.")
    active = _hold_of(manager, member)
    hold_appeal(hold=active, member=member, text="I paid this at the desk last week.")
    newest_ended = _hold_of(manager, member)
    client.post(
        reverse("portal:hold-lift", args=[manager.merchant.slug, newest_ended.ref]), {"confirm": "on"}
    )
    url = reverse("portal:holds", args=[manager.merchant.slug])

    listed = [row.hold.ref for row in client.get(url).context["rows"]]
    only_active = [row.hold.ref for row in client.get(url, {"status": "active"}).context["rows"]]
    only_overturned = client.get(url, {"status": "overturned"}).context["rows"]

    assert listed == [active.ref, newest_ended.ref, overturned.ref, lifted.ref]
    assert only_active == [active.ref]
    assert [(row.hold.ref, row.state, row.appeal.status) for row in only_overturned] == [
        (overturned.ref, "overturned", AppealStatus.UPHELD)
    ]
    page = client.get(reverse("portal:hold", args=[manager.merchant.slug, active.ref])).content.decode()
    assert "Waiting for a decision" in page
    assert "I paid this at the desk" not in page  # the member's words are for the operators


def test_lifting_asks_for_a_confirmation_first(client, manager, member):
    hold = _hold_of(manager, member)
    url = reverse("portal:hold-lift", args=[manager.merchant.slug, hold.ref])

    unconfirmed = client.post(url, {"note": "Returned."}, follow=True)
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert "Tick the box" in unconfirmed.content.decode()

    client.post(url, {"confirm": "on", "note": "Returned."})
    hold.refresh_from_db()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.MERCHANT)
    assert AuditEntry.objects.filter(
        merchant=manager.merchant, action="hold.lifted", target=hold.ref
    ).exists()
    again = client.post(url, {"confirm": "on"}, follow=True)
    assert "already ended" in again.content.decode()


def test_an_owner_may_too(client):
    owner = StaffFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    member = JoinedMemberFactory.create()
    linked(member, owner.merchant)

    client.post(reverse("portal:holds", args=[owner.merchant.slug]), _form(member))

    assert Hold.objects.filter(merchant_ref=owner.merchant.ref).count() == 1


def test_a_cashier_can_neither_see_place_nor_lift_holds(client, manager, member):
    hold = _hold_of(manager, member)
    cashier = StaffFactory.create(merchant=manager.merchant, role=Role.CASHIER)
    client.force_login(cashier.user)
    slug = manager.merchant.slug

    assert client.get(reverse("portal:holds", args=[slug])).status_code == 403
    assert (
        client.post(reverse("portal:holds", args=[slug]), _form(member, obligation_ref="X")).status_code
        == 403
    )
    assert client.get(reverse("portal:hold", args=[slug, hold.ref])).status_code == 403
    lift = client.post(reverse("portal:hold-lift", args=[slug, hold.ref]), {"confirm": "on"})
    assert lift.status_code == 403
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert Hold.objects.count() == 1
    assert (
        reverse("portal:holds", args=[slug])
        not in client.get(reverse("portal:counter", args=[slug])).content.decode()
    )


def test_the_navigation_leads_managers_to_holds(client, manager):
    page = client.get(reverse("portal:counter", args=[manager.merchant.slug])).content.decode()

    assert reverse("portal:holds", args=[manager.merchant.slug]) in page


def test_another_merchants_hold_is_not_found(client, manager):
    other = StaffFactory.create(role=Role.OWNER)
    theirs = _hold_of(other, JoinedMemberFactory.create())
    slug = manager.merchant.slug

    assert client.get(reverse("portal:hold", args=[slug, theirs.ref])).status_code == 404
    assert (
        client.post(reverse("portal:hold-lift", args=[slug, theirs.ref]), {"confirm": "on"}).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == HoldStatus.ACTIVE
    assert theirs.ref not in client.get(reverse("portal:holds", args=[slug])).content.decode()


def _appealed(manager, member):
    hold = _hold_of(manager, member)
    return hold, hold_appeal(hold=hold, member=member, text="I returned the car on time at the airport.")


def test_a_manager_accepts_an_appeal_which_lifts_the_hold(client, manager, member):
    hold, appeal = _appealed(manager, member)
    slug = manager.merchant.slug
    page = client.get(reverse("portal:hold", args=[slug, hold.ref])).content.decode()
    assert "Answer the appeal" in page

    response = client.post(
        reverse("portal:hold-appeal", args=[slug, hold.ref]),
        {"answer": "accept", "reason": "The return was logged at the airport desk."},
        follow=True,
    )

    hold.refresh_from_db()
    appeal.refresh_from_db()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.MERCHANT)
    assert appeal.status == AppealStatus.CLOSED
    assert "You accepted the appeal" in response.content.decode()
    assert "Answer the appeal" not in response.content.decode()
    assert hold.audit.filter(note__contains="Appeal accepted: The return was logged").exists()
    assert Notification.objects.filter(member=member, kind="hold_lifted").exists()


def test_a_manager_declines_an_appeal_with_a_reason_and_the_operators_still_decide(client, manager, member):
    hold, appeal = _appealed(manager, member)
    url = reverse("portal:hold-appeal", args=[manager.merchant.slug, hold.ref])

    no_reason = client.post(url, {"answer": "decline", "reason": ""}, follow=True)
    assert "say why" in no_reason.content.decode()
    client.post(url, {"answer": "decline", "reason": "The car came back 3 days late."})

    hold.refresh_from_db()
    appeal.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert appeal.status == AppealStatus.OPEN
    entry = AuditEntry.objects.get(action="hold.appeal_declined")
    assert (entry.target, entry.actor_user, entry.params) == (
        hold.ref,
        manager.user,
        {"reason": "The car came back 3 days late."},
    )


def test_without_an_open_appeal_there_is_nothing_to_decline(client, manager, member):
    hold = _hold_of(manager, member)
    url = reverse("portal:hold-appeal", args=[manager.merchant.slug, hold.ref])

    response = client.post(url, {"answer": "decline", "reason": "No."}, follow=True)

    assert "no appeal of this hold waiting" in response.content.decode()
    assert not AuditEntry.objects.filter(action="hold.appeal_declined").exists()
    assert (
        "Answer the appeal"
        not in client.get(reverse("portal:hold", args=[manager.merchant.slug, hold.ref])).content.decode()
    )
