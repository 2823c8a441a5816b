from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.members.errors import MemberExists, MemberPassInvalid
from loyalty.members.models import ConsentChange, ConsentSource, Dimension, LookupPurpose, Member, MemberPass
from loyalty.members.selectors import member_consents, member_lookups, member_notifications
from loyalty.members.services import (
    consent_set,
    member_create,
    member_lookup_record,
    member_pass_issue,
    member_pass_verify,
    member_passes_purge,
    member_verification_record,
    notification_add,
    notification_mark_read,
)
from loyalty.scoring.models import ScoreEvent
from tests.factories import MERCHANT_REF, JoinedMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_user_joins_once_with_a_public_ref_and_the_consents_they_chose():
    user = UserFactory.create()

    member = member_create(user=user, locale="zh-hans", consents=[Dimension.TENURE])

    assert member.ref.startswith("mem_")
    assert member.locale == "zh-hans"
    assert [c.dimension for c in member_consents(member=member) if c.granted] == [Dimension.TENURE]
    with pytest.raises(MemberExists):
        member_create(user=user)


def test_an_unknown_locale_dimension_or_source_is_refused():
    member = JoinedMemberFactory.create()

    with pytest.raises(Invalid) as locale:
        member_create(user=UserFactory.create(), locale="fr")
    with pytest.raises(Invalid) as dimension:
        consent_set(member=member, dimension="horoscope", granted=True, source=ConsentSource.APP)
    with pytest.raises(Invalid) as source:
        consent_set(member=member, dimension=Dimension.ASSETS, granted=True, source="rumour")

    assert (locale.value.param, dimension.value.param, source.value.param) == (
        "locale",
        "dimension",
        "source",
    )


def test_every_dimension_is_listed_and_one_never_chosen_is_not_shared():
    member = JoinedMemberFactory.create()
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=True, source=ConsentSource.APP)
    consent_set(member=member, dimension=Dimension.FULFILMENT, granted=False, source=ConsentSource.APP)

    states = {state.dimension: state for state in member_consents(member=member)}

    assert set(states) == set(Dimension.values)
    assert not any(state.granted for state in states.values())
    assert states[Dimension.FULFILMENT].changed_at is not None
    assert states[Dimension.ASSETS].changed_at is None
    assert ConsentChange.objects.filter(member=member, dimension=Dimension.FULFILMENT).count() == 2


def test_a_member_pass_names_its_member_for_about_a_minute():
    member = JoinedMemberFactory.create()

    token = member_pass_issue(member=member)

    assert member_pass_verify(token=token) == member
    assert member.ref not in token
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=61)),
        pytest.raises(MemberPassInvalid) as expired,
    ):
        member_pass_verify(token=token)
    assert expired.value.param == "member_pass"


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x" + t, lambda t: ""]
)
def test_a_tampered_pass_is_refused(mangle):
    token = member_pass_issue(member=JoinedMemberFactory.create())

    with pytest.raises(MemberPassInvalid):
        member_pass_verify(token=mangle(token))


def test_a_pass_whose_record_is_gone_is_refused_and_old_passes_are_purged():
    token = member_pass_issue(member=JoinedMemberFactory.create())
    MemberPass.objects.update(expires_at=timezone.now() - timedelta(days=2))

    with pytest.raises(MemberPassInvalid):
        member_pass_verify(token=token)
    assert member_passes_purge() == 1


def test_partner_look_ups_are_logged_for_the_member_newest_first():
    member = JoinedMemberFactory.create()
    member_lookup_record(member=member, merchant_ref=MERCHANT_REF, merchant_name="Swift", purpose="benefits")
    member_lookup_record(member=member, merchant_ref=MERCHANT_REF, merchant_name="Swift", purpose="deposit")

    assert [lookup.purpose for lookup in member_lookups(member=member)] == [LookupPurpose.DEPOSIT, "benefits"]
    with pytest.raises(Invalid):
        member_lookup_record(
            member=member, merchant_ref=MERCHANT_REF, merchant_name="Swift", purpose="curiosity"
        )


def test_a_verification_sets_the_flag_and_records_a_platform_event_once():
    member = JoinedMemberFactory.create()

    member_verification_record(member=member, check="phone")
    member_verification_record(member=member, check="phone")

    member.refresh_from_db()
    assert member.phone_verified
    assert ScoreEvent.objects.filter(member=member, kind="phone_verified").count() == 1


def test_notifications_are_deduplicated_and_can_be_marked_read():
    member = JoinedMemberFactory.create()
    notification_add(member=member, kind="points_expiring", dedupe_key="exp:1", params={"points": 40})
    notification_add(member=member, kind="points_expiring", dedupe_key="exp:1", params={"points": 40})
    unread = member_notifications(member=member, unread_only=True)
    assert unread.count() == 1

    notification_mark_read(member=member, notification_id=unread.get().pk)

    assert not member_notifications(member=member, unread_only=True).exists()


@pytest.mark.postgres
def test_history_rows_are_append_only_in_the_database():
    member = JoinedMemberFactory.create()
    consent_set(member=member, dimension=Dimension.ASSETS, granted=True, source=ConsentSource.APP)

    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        ConsentChange.objects.filter(member=member).update(granted=False)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        ConsentChange.objects.filter(member=member).delete()
    assert Member.objects.filter(pk=member.pk).exists()
