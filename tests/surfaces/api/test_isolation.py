"""Invariant 5: a merchant's key never reads or changes another merchant's objects.

One row per operation that names an object in its path: another merchant's object must be
a 404 `not_found`, exactly as one that does not exist, never a 403 that would reveal it.
One row per list: another merchant's objects are not in it, and cannot be a cursor. Add
the rows with each new endpoint: the completeness tests fail until you do.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from loyalty.members.models import LinkStart, Member
from loyalty.members.services import link_start
from loyalty.scoring.models import ScoreEvent
from loyalty.scoring.services import ScoreEventInput, dispute_open, score_events_record
from perks.merchants.models import Merchant
from perks.vouchers.models import Campaign, RedemptionBatch, Reservation
from perks.vouchers.services import voucher_redeem
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory, StaffFactory
from tests.factories.vouchers import VoucherFactory
from tests.support.billing import deposit_held, deposit_waived
from tests.surfaces.api.conftest import BASE, assert_error

Make = Callable[[Merchant], str]  # makes an object of the merchant, returns its id


def _perk(merchant: Merchant) -> str:
    return PerkFactory.create(merchant=merchant).ref


def _voucher(merchant: Merchant) -> str:
    return VoucherFactory.create(perk=PerkFactory.create(merchant=merchant)).code


def _reservation(merchant: Merchant) -> str:
    voucher = VoucherFactory.create(perk=PerkFactory.create(merchant=merchant), uses_reserved=1)
    return Reservation.objects.create(voucher=voucher, merchant=merchant, expires_at=voucher.expires_at).ref


def _redemption(merchant: Merchant) -> str:
    owner = StaffFactory.create(merchant=merchant).user
    return voucher_redeem(merchant=merchant, actor=owner, code=_voucher(merchant)).ref


def _campaign(merchant: Merchant) -> str:
    perk = PerkFactory.create(merchant=merchant)
    return Campaign.objects.create(
        merchant=merchant, perk=perk, audience_min_score=600, created_by="test"
    ).ref


def _batch(merchant: Merchant) -> str:
    return RedemptionBatch.objects.create(merchant=merchant, created_by="test").ref


def _linked_member(merchant: Merchant) -> str:
    member = JoinedMemberFactory.create()
    link_start(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, how=LinkStart.SHARING)
    return member.ref


def _hold(merchant: Merchant) -> str:
    member = Member.objects.get(ref=_linked_member(merchant))
    return HoldFactory.create(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name).ref


def _event(merchant: Merchant) -> str:
    """One of the merchant's score events, by its own id (the partner's, not a ref)."""
    member = Member.objects.get(ref=_linked_member(merchant))
    external_id = f"evt-{member.ref}"
    score_events_record(
        source=merchant.ref,
        events=[ScoreEventInput(external_id, member.pk, "payment_missed", timezone.now())],
    )
    return external_id


def _deposit(merchant: Merchant) -> str:
    return deposit_waived(merchant).ref


def _held_deposit(merchant: Merchant) -> str:
    return deposit_held(merchant).ref


def _disputed_event(merchant: Merchant) -> str:
    external_id = _event(merchant)
    event = ScoreEvent.objects.get(source=merchant.ref, external_id=external_id)
    dispute_open(member=event.member, event_id=event.pk, reason="Not mine: I was abroad that month.")
    return external_id


@dataclass(frozen=True)
class ObjectEndpoint:
    method: str
    path: str  # with {id} where the object's id goes
    make: Make
    body: dict[str, Any] | None = None
    needs: tuple[str, ...] = ()  # fixtures the object needs (Stripe for a held deposit)

    def call(self, partner, object_id: str):
        path = self.path.format(id=object_id)
        if self.method == "POST":
            return partner.post(path, self.body or {})
        return partner.call(self.method, path)


@dataclass(frozen=True)
class ListEndpoint:
    path: str
    make: Make


OBJECT_ENDPOINTS = [
    ObjectEndpoint("GET", "/perks/{id}", _perk),
    ObjectEndpoint("GET", "/vouchers/{id}", _voucher),
    ObjectEndpoint("DELETE", "/reservations/{id}", _reservation),
    ObjectEndpoint("GET", "/redemptions/{id}", _redemption),
    ObjectEndpoint("POST", "/redemptions/{id}/reversal", _redemption),
    ObjectEndpoint("GET", "/campaigns/{id}", _campaign),
    ObjectEndpoint("GET", "/redemption-batches/{id}", _batch),
    ObjectEndpoint("GET", "/events/{id}", _event),
    ObjectEndpoint("POST", "/events/{id}/confirmation", _disputed_event, {"evidence": "Signed slip DS-19."}),
    ObjectEndpoint("GET", "/holds/{id}", _hold),
    ObjectEndpoint("POST", "/holds/{id}/lift", _hold),
    ObjectEndpoint("GET", "/deposits/{id}", _deposit),
    ObjectEndpoint("POST", "/deposits/{id}/release", _held_deposit, needs=("stripe_on",)),
    ObjectEndpoint("POST", "/deposits/{id}/capture", _held_deposit, {"amount": "1.00"}, ("stripe_on",)),
]
LIST_ENDPOINTS = [
    ListEndpoint("/perks", _perk),
    ListEndpoint("/redemptions", _redemption),
    ListEndpoint("/holds", _hold),
    ListEndpoint("/deposits", _deposit),
]


def _hold_body(member: str) -> dict[str, Any]:
    expires_at = (timezone.now() + timedelta(days=30)).isoformat()
    return {"member": member, "reason_code": "unpaid_balance", "detail": "Unpaid.", "expires_at": expires_at}


def _body_endpoints() -> list[tuple[str, Make, Callable[[str], dict[str, Any]]]]:
    """Operations that name another object in their body: theirs is a 404, like no object."""
    return [
        ("/redemptions", _voucher, lambda code: {"code": code}),
        ("/reservations", _voucher, lambda code: {"code": code}),
        ("/vouchers", _perk, lambda perk: {"perk": perk, "member": "mem_" + "0" * 20}),
        ("/campaigns", _perk, lambda perk: {"perk": perk, "audience": {"min_tier": "gold"}}),
        ("/holds", _linked_member, _hold_body),
        ("/deposits", _linked_member, lambda ref: {"member": ref, "amount": "10.00", "currency": "CNY"}),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "make", "body"), _body_endpoints(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_another_merchants_object_named_in_a_body_is_not_found(path, make, body, partner, other_partner):
    theirs = make(other_partner.merchant)

    assert_error(partner.post(path, body(theirs)), 404, "not_found")


@pytest.mark.django_db
def test_another_merchants_voucher_does_not_validate(partner, other_partner):
    theirs = _voucher(other_partner.merchant)

    assert partner.post("/validations", {"code": theirs}).json()["reason"] == "not_found"
    assert other_partner.post("/validations", {"code": theirs}).json()["valid"] is True


@pytest.mark.django_db
def test_another_merchants_reservation_cannot_be_redeemed_with(partner, other_partner):
    mine = _voucher(partner.merchant)
    theirs = _reservation(other_partner.merchant)

    assert_error(partner.post("/redemptions", {"code": mine, "reservation": theirs}), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_another_merchants_object_is_not_found(endpoint, partner, other_partner, request):
    for fixture in endpoint.needs:
        request.getfixturevalue(fixture)
    theirs = endpoint.make(other_partner.merchant)

    assert_error(endpoint.call(partner, theirs), 404, "not_found")
    assert endpoint.call(other_partner, theirs).status_code < 400  # the object is real and reachable


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS, ids=lambda e: e.path)
def test_lists_hold_only_the_merchants_own_objects(endpoint, partner, other_partner):
    mine, theirs = endpoint.make(partner.merchant), endpoint.make(other_partner.merchant)

    listed = [item["id"] for item in partner.get(endpoint.path).json()["data"]]

    assert mine in listed
    assert theirs not in listed
    assert_error(partner.get(endpoint.path, starting_after=theirs), 400, "validation_error", "starting_after")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), re.sub(r"\{\w+\}", "{id}", path.removeprefix(BASE)), operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_object_operation_has_a_row():
    needed = {(method, path) for method, path, _ in _operations() if "{id}" in path}

    assert needed - {(e.method, e.path) for e in OBJECT_ENDPOINTS} == set()


def test_every_list_has_a_row():
    needed = {path for _, path, operation in _operations() if operation["operationId"].endswith("_list")}

    assert needed - {e.path for e in LIST_ENDPOINTS} == set()
