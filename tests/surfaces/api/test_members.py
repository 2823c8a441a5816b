"""Naming a member by ref or by pass, and the look-up on the member's record."""

import pytest
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response

from loyalty.core.errors import Refused
from loyalty.members.models import LookupPurpose, MemberLookup
from loyalty.members.services import member_pass_issue
from surfaces.api.members import MemberInput
from surfaces.api.views.base import PartnerView, parsed
from tests.factories import JoinedMemberFactory
from tests.support.links import linked
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db


class _Lookup(MemberInput):
    outcome = serializers.ChoiceField(choices=["refuse", "fail"], required=False)


class LookupView(PartnerView):
    """As /benefits will: name the member, then answer (or refuse, or fail) about them."""

    write_scope = None

    def post(self, request):
        data = parsed(_Lookup, request)
        member = self.member_from(data, purpose=LookupPurpose.BENEFITS)
        if data.get("outcome") == "refuse":
            raise Refused("Not for this member.")
        if data.get("outcome") == "fail":
            raise RuntimeError("our side broke")
        return Response({"member": member.ref})


urlpatterns = [path("api/v1/lookup", LookupView.as_view()), path("api/v1/", include("surfaces.api.urls"))]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def member(partner):
    member = JoinedMemberFactory.create()
    linked(member, partner.merchant)
    return member


def _lookups(member):
    return list(
        MemberLookup.objects.filter(member=member).values_list("merchant_ref", "merchant_name", "purpose")
    )


def test_a_member_named_by_ref_is_found_and_the_look_up_recorded(partner, member):
    response = partner.post("/lookup", {"member": member.ref})

    assert response.json() == {"member": member.ref}
    assert _lookups(member) == [(partner.merchant.ref, partner.merchant.name, "benefits")]


def test_a_member_named_by_pass_is_found(partner, member):
    response = partner.post("/lookup", {"member_pass": member_pass_issue(member=member)})

    assert response.json() == {"member": member.ref}
    assert len(_lookups(member)) == 1


@pytest.mark.parametrize("body", [{}, {"member": "mem_x", "member_pass": "token"}])
def test_exactly_one_way_of_naming_the_member(partner, body):
    assert_error(partner.post("/lookup", body), 400, "validation_error", param="member")


def test_an_unknown_member_is_not_found_and_nobody_is_recorded(partner):
    assert_error(partner.post("/lookup", {"member": "mem_" + "0" * 20}), 404, "not_found", param="member")
    assert not MemberLookup.objects.exists()


def test_a_forged_pass_is_refused(partner, member):
    forged = member_pass_issue(member=member)[:-2] + "xx"

    assert_error(
        partner.post("/lookup", {"member_pass": forged}), 400, "validation_error", param="member_pass"
    )
    assert not MemberLookup.objects.exists()


def test_a_refusal_about_the_member_is_still_on_their_record(partner, member):
    """The partner learnt something about the member even though the request was refused."""
    response = partner.post("/lookup", {"member": member.ref, "outcome": "refuse"}, idempotency_key="k1")

    assert_error(response, 422, "refused")
    assert len(_lookups(member)) == 1


def test_a_replay_looks_nobody_up_again(partner, member):
    partner.post("/lookup", {"member": member.ref}, idempotency_key="k1")
    again = partner.post("/lookup", {"member": member.ref}, idempotency_key="k1")

    assert again["Idempotent-Replayed"] == "true"
    assert len(_lookups(member)) == 1


def test_a_failure_on_our_side_records_nothing(partner, member):
    assert_error(partner.post("/lookup", {"member": member.ref, "outcome": "fail"}), 500, "internal_error")
    assert not MemberLookup.objects.exists()
