"""Invariant 10: after erasure nothing personal about the member remains, and every ledger
still balances. The member side announces the erasure and each app pseudonymises its own
rows; these tests look at the whole database afterwards, not at any one app."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from config.schedule import BEAT_SCHEDULE
from loyalty.members.errors import MemberErased
from loyalty.members.events import member_erased
from loyalty.members.models import (
    Dimension,
    LinkEnd,
    LinkStart,
    LookupPurpose,
    Member,
    MemberLookup,
    MemberPass,
    MerchantLink,
    Notification,
)
from loyalty.members.services import (
    link_end,
    link_start,
    member_create,
    member_erase,
    member_erasure_cancel,
    member_erasure_request,
    member_lookup_record,
    member_pass_issue,
    members_erase_due,
    notification_add,
)
from loyalty.members.services.erasure import ERASURE_CANCEL_DAYS
from loyalty.members.tasks import erase_due
from loyalty.points.models import Account, AccountKind, PlatformAccount, PointsTransaction, TransactionKind
from loyalty.points.selectors import points_balance
from loyalty.points.services import platform_account
from loyalty.scoring.models import Dispute, HoldAppeal, HoldEnd, HoldStatus, ScoreEvent, ScoreSnapshot
from loyalty.scoring.services import ScoreEventInput, hold_appeal, score_events_record, score_recompute
from loyalty.scoring.services.disputes import dispute_open
from perks.merchants.models import Merchant, WebhookEvent
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.models import (
    Redemption,
    Reservation,
    ReservationStatus,
    UsageRecord,
    Voucher,
    VoucherStatus,
)
from perks.vouchers.services import reservation_create, voucher_claim, voucher_issue, voucher_redeem
from tests.factories import HoldFactory, MerchantFactory, PerkFactory, StaffFactory, UserFactory
from tests.loyalty.points.ledger_checks import assert_ledger_consistent, earn
from tests.support.accounts import operator_sign_in
from tests.support.erasure import all_rows, personal_data_found

pytestmark = pytest.mark.django_db

EMAIL = "ada.quorrimoth@example.test"
FIRST, LAST = "Adaline", "Quorrimoth"
PHONE = "+44 7700 900123"
PERSONAL = (EMAIL, FIRST, LAST, PHONE)


@dataclass(frozen=True)
class Scene:
    member: Member
    linked: Merchant
    formerly_linked: Merchant
    claimed: Voucher
    reserved: Voucher
    redemption: Redemption


@pytest.fixture
def scene(client, django_capture_on_commit_callbacks):
    """A member who used everything: shared data, a disputed event, an appealed hold,
    points, a claimed voucher, a reserved one, a redemption whose side effects are still
    due, messages, a pass, a look-up, a signed-in session and an operator's note on them."""
    user = UserFactory.create(email=EMAIL, first_name=FIRST, last_name=LAST)
    member = member_create(
        user=user, display_name=f"{FIRST} {LAST}", phone=PHONE, consents=[Dimension.FULFILMENT]
    )
    linked = MerchantFactory.create(name="Swift Car Rental")
    formerly_linked = MerchantFactory.create(name="Harbour Books")
    MerchantFactory.create(name="Never Met Cafe")
    owner = StaffFactory.create(merchant=linked).user
    key = api_key_create(merchant=linked, actor=owner, name="Till", scopes=Scope.values).key
    link_start(member=member, merchant_ref=linked.ref, merchant_name=linked.name, how=LinkStart.SHARING)
    former = link_start(
        member=member,
        merchant_ref=formerly_linked.ref,
        merchant_name=formerly_linked.name,
        how=LinkStart.PASS,
    )
    link_end(member=member, link_id=former.pk)

    late = ScoreEventInput("rental-1", member.pk, "rental_returned_late", timezone.now() - timedelta(days=5))
    score_events_record(source=linked.ref, events=[late])
    score_recompute(member_ids=[member.pk])
    dispute_open(
        member=member,
        event_id=ScoreEvent.objects.get(member=member, source=linked.ref).pk,
        reason=f"I am {FIRST} {LAST}, I brought the car back on time; call me on {PHONE}.",
    )
    hold = HoldFactory.create(member=member, merchant_ref=linked.ref, merchant_name=linked.name)
    hold_appeal(hold=hold, member=member, text=f"Please call {FIRST} on {PHONE}: the invoice is paid.")

    earn(member.pk, 300)
    claimed = voucher_claim(
        perk=PerkFactory.create(merchant=linked, points_cost=100), member=member, idempotency_key="claim-1"
    )
    reserved = voucher_issue(perk=PerkFactory.create(merchant=linked), member=member, actor=owner)
    reservation_create(merchant=linked, actor=key, code=reserved.code)
    used = voucher_issue(perk=PerkFactory.create(merchant=linked), member=member, actor=owner)
    with django_capture_on_commit_callbacks(execute=False):  # its side effects stay due
        redemption = voucher_redeem(merchant=linked, actor=key, code=used.code)

    notification_add(member=member, kind="welcome", dedupe_key=f"welcome:{member.pk}", params={"name": FIRST})
    member_pass_issue(member=member)
    member_lookup_record(
        member=member, merchant_ref=linked.ref, merchant_name=linked.name, purpose=LookupPurpose.BENEFITS
    )
    LogEntry.objects.create(
        user=UserFactory.create(is_staff=True, is_superuser=True),
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=str(user),
        action_flag=CHANGE,
        change_message="[]",
    )
    client.force_login(user)
    return Scene(member, linked, formerly_linked, claimed, reserved, redemption)


def test_after_erasure_no_text_or_json_column_of_any_table_holds_the_members_email_name_or_phone(scene):
    before = set(personal_data_found(PERSONAL))
    # The search finds the member wherever the product wrote them, so finding nothing later
    # means they are gone, not that the search is blind.
    assert {
        f"auth_user.email: {EMAIL}",
        f"auth_user.username: {EMAIL}",
        f"auth_user.first_name: {FIRST}",
        f"members_member.display_name: {LAST}",
        f"members_member.phone: {PHONE}",
        f"scoring_dispute.reason: {PHONE}",
        f"scoring_holdappeal.text: {PHONE}",
        f"members_notification.params: {FIRST}",
        f"django_admin_log.object_repr: {EMAIL}",
    } <= before

    assert member_erase(member=scene.member)

    assert personal_data_found(PERSONAL) == []


def test_every_ledger_still_balances_and_the_balance_left_for_the_expiry_account(scene):
    expiry = platform_account(platform=PlatformAccount.EXPIRY)
    expired_before = expiry.balance
    assert points_balance(member=scene.member) == 200

    member_erase(member=scene.member)

    assert_ledger_consistent()  # every transaction sums to zero; no wallet below zero
    assert not Account.objects.filter(kind=AccountKind.MEMBER, balance__lt=0).exists()
    erased = PointsTransaction.objects.get(kind=TransactionKind.ERASE)
    assert sorted(erased.postings.values_list("account__kind", "amount")) == [
        (AccountKind.MEMBER, -200),
        (AccountKind.PLATFORM, 200),
    ]
    assert points_balance(member=scene.member) == 0
    expiry.refresh_from_db()
    assert expiry.balance == expired_before + 200


def test_a_second_run_changes_nothing(scene):
    assert member_erase(member=scene.member) is True
    after_first = all_rows()

    assert member_erase(member=scene.member) is False
    assert members_erase_due(now=timezone.now() + timedelta(days=365)) == 0

    assert all_rows() == after_first


def test_only_the_merchants_linked_with_the_member_are_told_to_delete_what_they_keep(scene):
    member_erase(member=scene.member)

    told = WebhookEvent.objects.filter(type="member.erased")
    assert [(event.merchant, event.data) for event in told] == [(scene.linked, {"member": scene.member.ref})]


def test_each_app_pseudonymises_its_own_rows_and_keeps_the_history_under_the_ref(scene, client):
    ref = scene.member.ref
    member_erase(member=scene.member)

    member = Member.objects.select_related("user").get(pk=scene.member.pk)
    assert (member.ref, member.display_name, member.phone, member.erased_at is not None) == (
        ref,
        "",
        "",
        True,
    )
    assert member.user.username == f"erased-{ref}"
    assert not member.user.is_active
    assert not member.user.has_usable_password()
    # Signed out everywhere, and no way back in.
    assert client.get(reverse("app:home"))["Location"].startswith(reverse("app:login"))
    assert not Session.objects.exists()
    assert not MemberPass.objects.filter(member=member).exists()
    assert not Notification.objects.filter(member=member).exists()
    assert not MemberLookup.objects.filter(member=member).exists()
    assert not ScoreSnapshot.objects.filter(member=member).exists()
    # Links: the active one ended by the erasure, the ended one left as the member left it.
    ends = dict(MerchantLink.objects.filter(member=member).values_list("merchant_ref", "ended_by"))
    assert ends == {scene.linked.ref: LinkEnd.ERASURE, scene.formerly_linked.ref: LinkEnd.MEMBER}
    # Vouchers: open ones revoked, the used one and its redemption kept for billing, with
    # the side effects that were still due done.
    statuses = dict(Voucher.objects.filter(member=member).values_list("pk", "status"))
    assert statuses[scene.claimed.pk] == statuses[scene.reserved.pk] == VoucherStatus.REVOKED
    assert statuses[scene.redemption.voucher_id] == VoucherStatus.REDEEMED
    assert Reservation.objects.get(voucher=scene.reserved).status == ReservationStatus.RELEASED
    assert Redemption.objects.get(pk=scene.redemption.pk).side_effects_at is not None
    assert UsageRecord.objects.filter(redemption=scene.redemption).count() == 1
    # Scoring: holds ended by the erasure, the member's words gone, the score at the baseline.
    hold = member.holds.get()
    assert (hold.status, hold.lifted_how) == (HoldStatus.LIFTED, HoldEnd.ERASURE)
    assert list(HoldAppeal.objects.filter(hold=hold).values_list("text", flat=True)) == [""]
    assert list(Dispute.objects.filter(member=member).values_list("reason", flat=True)) == [""]
    assert member.standing.shared_dimensions == 0
    assert ScoreEvent.objects.filter(member=member).exists()


def test_the_job_erases_only_requests_past_their_days_to_cancel():
    now = timezone.now()
    days = timedelta(days=ERASURE_CANCEL_DAYS)
    due, recent, cancelled, _never_asked = (_member() for _ in range(4))
    member_erasure_request(member=due, now=now - days - timedelta(minutes=1))
    member_erasure_request(member=recent, now=now - days + timedelta(minutes=1))
    member_erasure_request(member=cancelled, now=now - days - timedelta(days=1))
    member_erasure_cancel(member=cancelled)

    assert members_erase_due(now=now) == 1

    erased = set(Member.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
    assert erased == {due.pk}
    recent.refresh_from_db()
    assert recent.erasure_requested_at is not None
    assert members_erase_due(now=now + timedelta(minutes=2)) == 1  # its turn has come


def test_a_request_cancelled_while_the_job_runs_is_left_alone():
    first, second = _member(), _member()
    for member in (first, second):
        member_erasure_request(member=member, now=timezone.now() - timedelta(days=ERASURE_CANCEL_DAYS + 1))

    def cancel_the_second(sender, *, member, **kwargs):
        if member.pk == first.pk:  # the job has read both as due, and is erasing the first
            member_erasure_cancel(member=second)

    member_erased.connect(cancel_the_second, dispatch_uid="test.cancel_the_second")
    try:
        assert members_erase_due() == 1
    finally:
        member_erased.disconnect(dispatch_uid="test.cancel_the_second")

    second.refresh_from_db()
    assert (second.erasure_requested_at, second.erased_at) == (None, None)


def test_asking_again_keeps_the_first_day_and_an_erased_member_can_do_neither():
    member = _member()
    first = member_erasure_request(member=member, now=timezone.now() - timedelta(days=2))
    again = member_erasure_request(member=member)
    assert again.erasure_requested_at == first.erasure_requested_at

    member_erase(member=member)

    with pytest.raises(MemberErased):
        member_erasure_request(member=member)
    with pytest.raises(MemberErased):
        member_erasure_cancel(member=member)


def test_the_operator_erasure_keeps_the_day_the_member_asked():
    member = _member()
    asked = member_erasure_request(member=member, now=timezone.now() - timedelta(days=1)).erasure_requested_at

    member_erase(member=member)

    member.refresh_from_db()
    assert member.erasure_requested_at == asked
    assert asked is not None
    assert member.erased_at is not None
    assert member.erased_at > asked


def test_beat_runs_the_job_through_its_task():
    assert BEAT_SCHEDULE["members-erase-due"]["task"] == erase_due.name
    member = _member()
    member_erasure_request(member=member, now=timezone.now() - timedelta(days=ERASURE_CANCEL_DAYS, minutes=1))

    assert erase_due() == 1
    assert erase_due() == 0


class TestTheOperatorConsole:
    @pytest.fixture
    def operator(self, client):
        operator_sign_in(client, UserFactory.create(is_staff=True, is_superuser=True))

    def _act(self, client, member, **extra):
        return client.post(
            reverse("admin:members_member_changelist"),
            {"action": "erase", "_selected_action": [member.pk], **extra},
        )

    def test_it_asks_for_confirmation_first_and_erases_nothing_until_then(self, client, operator):
        member = _member()

        response = self._act(client, member)

        assert response.status_code == 200
        assert member.ref in response.content.decode()
        assert "Yes, erase them" in response.content.decode()
        member.refresh_from_db()
        assert member.erased_at is None

    def test_confirmed_it_erases_the_verified_request_and_notes_who_did(self, client, operator):
        member = _member()
        member_erasure_request(member=member)

        response = self._act(client, member, confirmed="yes")

        assert response.status_code == 302
        member.refresh_from_db()
        assert member.erased_at is not None
        assert LogEntry.objects.filter(object_id=str(member.pk), change_message__contains="Erased").exists()

    def test_a_member_erased_already_is_left_as_is(self, client, operator):
        member = _member()
        member_erase(member=member)
        rows = all_rows()

        self._act(client, member, confirmed="yes")

        assert all_rows() == rows


def _member() -> Member:
    return member_create(user=UserFactory.create(), display_name="Someone", phone="+44 7700 900999")
