"""Member links at the partner API: a key names a member by ref only through a link the
member made with its merchant; showing the pass makes one; a voucher of a member with no
link shows `member: null`."""

import pytest

from loyalty.members.models import LinkStart, LookupPurpose, MemberLookup, MerchantLink
from loyalty.members.services import member_pass_issue
from perks.vouchers.models import Voucher
from tests.factories import JoinedMemberFactory, PerkFactory
from tests.factories.vouchers import VoucherFactory
from tests.support.links import linked, unlinked
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db
NOBODY = "mem_" + "0" * 20

# Every call that names a member by `member`, with what else its body needs, and the
# status it answers when the member is linked. POST /events, /holds and /deposits are
# tested with their endpoints.
MEMBER_REF_CALLS = [
    pytest.param("/benefits", lambda partner: {}, 200, id="POST /benefits"),
    pytest.param(
        "/vouchers",
        lambda partner: {"perk": PerkFactory.create(merchant=partner.merchant).ref},
        201,
        id="POST /vouchers",
    ),
]


@pytest.fixture
def member():
    return JoinedMemberFactory.create()


@pytest.mark.parametrize(("path", "body", "status"), MEMBER_REF_CALLS)
def test_a_member_ref_call_works_only_through_an_active_link(path, body, status, partner, other_partner):
    stranger, regular, gone = (JoinedMemberFactory.create() for _ in range(3))
    linked(stranger, other_partner.merchant)  # a link with another merchant is no link with this one
    linked(regular, partner.merchant)
    unlinked(gone, partner.merchant)

    answers = {
        ref: partner.post(path, {**body(partner), "member": ref}) for ref in (NOBODY, stranger.ref, gone.ref)
    }

    for response in answers.values():
        assert_error(response, 404, "not_found", param="member")
    # The same answer, word for word, whichever the reason: no key can tell who exists.
    assert len({response.content for response in answers.values()}) == 1
    assert not MemberLookup.objects.filter(member__in=[stranger, gone]).exists()
    assert partner.post(path, {**body(partner), "member": regular.ref}).status_code == status
    assert other_partner.post(path, {**body(other_partner), "member": stranger.ref}).status_code == status


def test_a_member_who_ends_the_link_is_unknown_from_then_on(partner, member):
    link = linked(member, partner.merchant)
    assert partner.post("/benefits", {"member": member.ref}).status_code == 200

    unlinked(member, partner.merchant)

    assert MerchantLink.objects.get(pk=link.pk).ended_at is not None
    assert_error(partner.post("/benefits", {"member": member.ref}), 404, "not_found", param="member")


def test_showing_the_pass_links_the_member_with_the_keys_merchant(partner, other_partner, member):
    response = partner.post("/benefits", {"member_pass": member_pass_issue(member=member)})

    assert response.status_code == 200, response.content
    link = MerchantLink.objects.get(member=member)
    assert (link.merchant_ref, link.merchant_name, link.started_by) == (
        partner.merchant.ref,
        partner.merchant.name,
        LinkStart.PASS,
    )
    assert link.is_active
    assert partner.post("/benefits", {"member": member.ref}).status_code == 200
    assert_error(other_partner.post("/benefits", {"member": member.ref}), 404, "not_found")


def test_showing_the_pass_again_keeps_the_link_and_after_an_end_starts_a_new_one(partner, member):
    partner.post("/benefits", {"member_pass": member_pass_issue(member=member)})
    partner.post("/benefits", {"member_pass": member_pass_issue(member=member)})
    assert MerchantLink.objects.filter(member=member).count() == 1

    unlinked(member, partner.merchant)
    partner.post("/benefits", {"member_pass": member_pass_issue(member=member)})

    assert MerchantLink.objects.filter(member=member).count() == 2
    assert MerchantLink.objects.filter(member=member, ended_at__isnull=True).count() == 1


def test_a_forged_pass_links_nobody(partner, member):
    forged = member_pass_issue(member=member)[:-2] + "xx"

    assert_error(partner.post("/benefits", {"member_pass": forged}), 400, "validation_error", "member_pass")
    assert not MerchantLink.objects.exists()


def test_a_pass_shown_while_issuing_a_voucher_links_too(partner, member):
    perk = PerkFactory.create(merchant=partner.merchant)

    response = partner.post("/vouchers", {"perk": perk.ref, "member_pass": member_pass_issue(member=member)})

    assert response.status_code == 201, response.content
    assert response.json()["member"] == member.ref
    assert MerchantLink.objects.get(member=member).merchant_ref == partner.merchant.ref


# A voucher's member, as the merchant reads it


def _voucher_of(partner, member) -> Voucher:
    return VoucherFactory.create(perk=PerkFactory.create(merchant=partner.merchant), member=member)


def test_a_voucher_of_a_member_with_no_link_shows_member_null_and_the_look_up_is_recorded(partner, member):
    voucher = _voucher_of(partner, member)
    linked(member, PerkFactory.create().merchant)  # linked elsewhere only

    response = partner.get(f"/vouchers/{voucher.code}")

    assert response.status_code == 200, response.content
    assert response.json()["member"] is None
    assert response.json()["perk"] == voucher.perk.ref
    lookup = MemberLookup.objects.get(member=member)
    assert (lookup.merchant_ref, lookup.merchant_name, lookup.purpose) == (
        partner.merchant.ref,
        partner.merchant.name,
        LookupPurpose.VOUCHER_READ,
    )


def test_a_voucher_shows_its_member_while_linked_and_null_again_once_the_link_ends(partner, member):
    voucher = _voucher_of(partner, member)
    linked(member, partner.merchant)

    assert partner.get(f"/vouchers/{voucher.code}").json()["member"] == member.ref

    unlinked(member, partner.merchant)

    assert partner.get(f"/vouchers/{voucher.code}").json()["member"] is None
    assert MemberLookup.objects.filter(member=member, purpose=LookupPurpose.VOUCHER_READ).count() == 2


def test_a_voucher_not_found_looks_nobody_up(partner, other_partner, member):
    theirs = _voucher_of(other_partner, member)

    assert_error(partner.get(f"/vouchers/{theirs.code}"), 404, "not_found")
    assert not MemberLookup.objects.exists()


def test_validating_a_voucher_of_a_member_with_no_link_shows_member_null(partner, member):
    voucher = _voucher_of(partner, member)

    body = partner.post("/validations", {"code": voucher.code}).json()

    assert body["valid"] is True
    assert body["voucher"]["member"] is None
