"""A member's links with merchants: one active link per merchant, ended by the member, kept
as history; only a linked merchant finds the member by ref."""

import pytest

from loyalty.members.errors import LinkNotFound, MemberNotFound
from loyalty.members.models import LinkEnd, LinkStart, MerchantLink
from loyalty.members.selectors import (
    linked_member_ids,
    linked_member_ids_by_ref,
    member_linked_by_ref,
    member_links,
)
from loyalty.members.services import LinkInput, link_end, link_start, links_start
from tests.factories import MemberFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db
HARBOUR, OTHER = "mch_harbour", "mch_other"


def link(member, merchant_ref=HARBOUR, how=LinkStart.SHARING):
    return link_start(member=member, merchant_ref=merchant_ref, merchant_name="Harbour", how=how)


def test_starting_a_link_twice_keeps_the_first():
    member = MemberFactory.create()
    first = link(member, how=LinkStart.PASS)
    again = link(member, how=LinkStart.REDEMPTION)
    assert again.pk == first.pk
    assert again.started_by == LinkStart.PASS
    assert MerchantLink.objects.filter(member=member).count() == 1


def test_only_a_linked_merchant_finds_the_member_by_ref():
    member, stranger = MemberFactory.create(), MemberFactory.create()
    link(member)

    assert member_linked_by_ref(ref=member.ref, merchant_ref=HARBOUR) == member
    for ref, merchant_ref in ((member.ref, OTHER), (stranger.ref, HARBOUR), ("mem_nobody", HARBOUR)):
        with pytest.raises(MemberNotFound):
            member_linked_by_ref(ref=ref, merchant_ref=merchant_ref)
    refs = [member.ref, stranger.ref, "mem_nobody"]
    assert linked_member_ids_by_ref(refs=refs, merchant_ref=HARBOUR) == {member.ref: member.pk}
    assert linked_member_ids(member_ids=[member.pk, stranger.pk], merchant_ref=HARBOUR) == {member.pk}


def test_an_ended_link_stops_the_merchant_and_a_new_one_is_a_new_row():
    member = MemberFactory.create()
    ended = link_end(member=member, link_id=link(member).pk)
    assert ended.ended_by == LinkEnd.MEMBER
    with pytest.raises(MemberNotFound):
        member_linked_by_ref(ref=member.ref, merchant_ref=HARBOUR)
    with pytest.raises(LinkNotFound):
        link_end(member=member, link_id=ended.pk)

    again = link(member, how=LinkStart.REDEMPTION)

    assert again.pk != ended.pk
    assert [row.pk for row in member_links(member=member)] == [again.pk, ended.pk]


def test_a_member_ends_only_their_own_links():
    member, other = MemberFactory.create(), MemberFactory.create()
    with pytest.raises(LinkNotFound):
        link_end(member=other, link_id=link(member).pk)


def test_many_links_start_in_one_go_and_an_active_one_is_left_alone():
    first, second = MemberFactory.create(), MemberFactory.create()
    kept = link(first, how=LinkStart.PASS)
    links_start(
        links=[LinkInput(first.pk, HARBOUR, "Harbour"), LinkInput(second.pk, HARBOUR, "Harbour")],
        how=LinkStart.REDEMPTION,
    )
    assert MerchantLink.objects.get(member=first).pk == kept.pk
    assert MerchantLink.objects.get(member=second).started_by == LinkStart.REDEMPTION


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_starts_racing_each_other_make_one_link():
    member = MemberFactory.create()
    outcomes = race(lambda i: link(member, how=LinkStart.PASS).pk, threads=8)
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes]
    assert len({outcome.value for outcome in outcomes}) == 1
    assert MerchantLink.objects.filter(member=member).count() == 1
