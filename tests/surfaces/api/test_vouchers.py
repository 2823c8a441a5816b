"""POST /vouchers, GET /vouchers/{code}, POST /validations, POST and DELETE /reservations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.members.models import MemberLookup
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import PerkStatus
from perks.vouchers.codes import code_format
from perks.vouchers.models import Reservation, ReservationStatus, Voucher, VoucherStatus
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory
from tests.factories.vouchers import VoucherFactory
from tests.support.links import linked
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(partner):
    """A regular of the partner's (linked with it)."""
    member = JoinedMemberFactory.create()
    linked(member, partner.merchant)
    return member


@pytest.fixture
def perk(partner):
    return PerkFactory.create(merchant=partner.merchant, title="Free coffee")


@pytest.fixture
def voucher(perk, member):
    return VoucherFactory.create(perk=perk, member=member)


def _messy(code: str) -> str:
    """The code as a cashier might type it: lower case, hyphens in odd places."""
    return f"{code[:3].lower()}-{code[3:9]} {code[9:].lower()}"


# POST /vouchers


def test_issue_a_voucher_to_a_member(partner, perk, member):
    response = partner.post("/vouchers", {"perk": perk.ref, "member": member.ref})

    assert response.status_code == 201, response.content
    body = response.json()
    voucher = Voucher.objects.get(member=member)
    assert body["code"] == code_format(voucher.code)
    assert {k: body[k] for k in ("perk", "member", "status", "uses_allowed", "uses_remaining")} == {
        "perk": perk.ref,
        "member": member.ref,
        "status": "issued",
        "uses_allowed": 1,
        "uses_remaining": 1,
    }
    assert set(body) == {
        "code",
        "perk",
        "member",
        "status",
        "uses_allowed",
        "uses_remaining",
        "issued_at",
        "expires_at",
    }
    assert MemberLookup.objects.filter(member=member, purpose="voucher").count() == 1


def test_a_refused_issue_is_422_with_the_reason_and_still_on_the_members_record(partner, member):
    perk = PerkFactory.create(merchant=partner.merchant, min_tier=Tier.objects.get(slug="diamond"))

    assert_error(
        partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}), 422, "member_not_eligible"
    )
    assert not Voucher.objects.exists()
    assert MemberLookup.objects.filter(member=member, purpose="voucher").count() == 1


@pytest.mark.parametrize(
    ("perk_fields", "code"),
    [
        ({"status": PerkStatus.PAUSED}, "perk_inactive"),
        ({"inventory": 0}, "inventory_exhausted"),
    ],
)
def test_issue_refusals(partner, member, perk_fields, code):
    perk = PerkFactory.create(merchant=partner.merchant, **perk_fields)

    assert_error(partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}), 422, code)


def test_issue_over_the_per_member_limit(partner, member):
    perk = PerkFactory.create(merchant=partner.merchant, per_member_limit=1)
    assert partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}).status_code == 201

    assert_error(partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}), 422, "limit_reached")


def test_issue_to_a_member_on_hold(partner, perk, member):
    HoldFactory.create(member=member, merchant_ref=partner.merchant.ref, category="all")

    assert_error(partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}), 422, "member_on_hold")


def test_issue_never_spends_points(partner, member):
    perk = PerkFactory.create(merchant=partner.merchant, points_cost=500)

    assert partner.post("/vouchers", {"perk": perk.ref, "member": member.ref}).status_code == 201
    assert Voucher.objects.get(member=member).points_spent == 0


def test_issue_needs_the_vouchers_write_scope(read_only_partner, perk, member):
    response = read_only_partner.post("/vouchers", {"perk": perk.ref, "member": member.ref})

    assert_error(response, 403, "permission_denied")


def test_issue_of_another_merchants_perk_is_not_found(partner, member):
    theirs = PerkFactory.create()

    assert_error(
        partner.post("/vouchers", {"perk": theirs.ref, "member": member.ref}), 404, "not_found", "perk"
    )


def test_issue_needs_a_perk_and_a_member(partner, perk):
    assert_error(partner.post("/vouchers", {"member": "mem_x"}), 400, "validation_error", "perk")
    assert_error(partner.post("/vouchers", {"perk": perk.ref}), 400, "validation_error", "member")


# GET /vouchers/{code}


@pytest.mark.parametrize("spelling", [str.upper, code_format, _messy])
def test_a_voucher_by_its_code_written_any_way(partner, voucher, spelling):
    response = partner.get(f"/vouchers/{spelling(voucher.code)}")

    assert response.status_code == 200, response.content
    assert response.json()["code"] == code_format(voucher.code)
    assert response.json()["uses_remaining"] == 1


def test_no_cache_keeps_an_answer_that_carries_a_code(partner, voucher):
    found = partner.get(f"/vouchers/{voucher.code}")
    missing = partner.get("/vouchers/nothing")

    assert (found.status_code, missing.status_code) == (200, 404)
    assert found["Cache-Control"] == missing["Cache-Control"] == "no-store"


def test_a_code_with_a_typo_or_unknown_is_not_found(partner, voucher):
    typo = ("1" if voucher.code[0] != "1" else "2") + voucher.code[1:]

    assert_error(partner.get(f"/vouchers/{typo}"), 404, "not_found")
    assert_error(partner.get("/vouchers/nothing"), 404, "not_found")


def test_a_voucher_with_no_use_left_is_redeemed(partner, perk, member):
    used = VoucherFactory.create(perk=perk, member=member, uses_count=1, status=VoucherStatus.REDEEMED)

    body = partner.get(f"/vouchers/{used.code}").json()

    assert (body["status"], body["uses_remaining"]) == ("redeemed", 0)


# POST /validations


def test_a_valid_code_with_its_benefit_and_nothing_changes(partner, member):
    perk = PerkFactory.create(
        merchant=partner.merchant, type="discount", params={"percent": "10", "currency": "CNY"}
    )
    voucher = VoucherFactory.create(perk=perk, member=member)

    response = partner.post(
        "/validations", {"code": _messy(voucher.code), "amount": "42.00", "currency": "CNY"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["valid"], body["reason"]) == (True, None)
    assert body["voucher"]["code"] == code_format(voucher.code)
    assert body["benefit"]["discount_amount"] == "4.20"
    voucher.refresh_from_db()
    assert (voucher.uses_count, voucher.uses_reserved, voucher.status) == (0, 0, "issued")


@pytest.mark.parametrize(
    ("voucher_fields", "reason"),
    [
        ({"status": VoucherStatus.REVOKED}, "voucher_revoked"),
        ({"status": VoucherStatus.EXPIRED}, "voucher_expired"),
        ({"uses_count": 1, "status": VoucherStatus.REDEEMED}, "voucher_already_redeemed"),
        ({"uses_reserved": 1}, "voucher_reserved"),
    ],
)
def test_an_unusable_voucher_is_not_valid_with_the_reason(partner, perk, member, voucher_fields, reason):
    voucher = VoucherFactory.create(perk=perk, member=member, **voucher_fields)

    body = partner.post("/validations", {"code": voucher.code}).json()

    assert (body["valid"], body["reason"], body["benefit"]) == (False, reason, None)
    assert body["voucher"]["code"] == code_format(voucher.code)


def test_a_voucher_not_yet_valid(partner, perk, member):
    later = timezone.now() + timedelta(days=1)
    voucher = VoucherFactory.create(perk=perk, member=member, valid_from=later)

    assert partner.post("/validations", {"code": voucher.code}).json()["reason"] == "voucher_not_yet_valid"


def test_a_member_no_longer_eligible(partner, member):
    perk = PerkFactory.create(merchant=partner.merchant, min_score=650)
    voucher = VoucherFactory.create(perk=perk, member=member)
    MemberStanding.objects.filter(member=member).update(score=600, tier=Tier.objects.get(slug="gold"))

    assert partner.post("/validations", {"code": voucher.code}).json()["reason"] == "member_not_eligible"


@pytest.mark.parametrize("code", ["XXXX", "0000-0000-0000-0"])
def test_an_unknown_code_is_not_valid_not_a_404(partner, code):
    body = partner.post("/validations", {"code": code}).json()

    assert body == {"valid": False, "reason": "not_found", "voucher": None, "benefit": None}


def test_another_merchants_voucher_is_not_found_there(other_partner, voucher):
    assert other_partner.post("/validations", {"code": voucher.code}).json()["reason"] == "not_found"


def test_any_key_may_validate(read_only_partner, voucher):
    assert read_only_partner.post("/validations", {"code": voucher.code}).json()["valid"] is True


def test_validation_of_an_unknown_location_is_a_validation_error(partner, voucher):
    response = partner.post("/validations", {"code": voucher.code, "location": "nowhere"})

    assert_error(response, 400, "validation_error", "location")


# POST /reservations and DELETE /reservations/{id}


def test_a_reservation_holds_a_use(partner, voucher):
    response = partner.post("/reservations", {"code": _messy(voucher.code), "ttl_seconds": 120})

    assert response.status_code == 201, response.content
    body = response.json()
    reservation = Reservation.objects.get()
    assert body["id"] == reservation.ref
    assert body["code"] == code_format(voucher.code)
    assert set(body) == {"id", "code", "expires_at"}
    assert reservation.expires_at - reservation.created_at == timedelta(seconds=120)
    assert_error(partner.post("/reservations", {"code": voucher.code}), 409, "voucher_reserved")
    assert_error(partner.post("/redemptions", {"code": voucher.code}), 409, "voucher_reserved")


def test_a_reservation_lasts_900_seconds_by_default(partner, voucher):
    partner.post("/reservations", {"code": voucher.code})

    reservation = Reservation.objects.get()
    assert reservation.expires_at - reservation.created_at == timedelta(seconds=900)


@pytest.mark.parametrize("ttl", [59, 3601, 1.5, "soon"])
def test_a_ttl_out_of_range_is_a_validation_error(partner, voucher, ttl):
    assert_error(
        partner.post("/reservations", {"code": voucher.code, "ttl_seconds": ttl}),
        400,
        "validation_error",
        "ttl_seconds",
    )


def test_reserving_a_used_voucher(partner, perk, member):
    used = VoucherFactory.create(perk=perk, member=member, uses_count=1, status=VoucherStatus.REDEEMED)

    assert_error(partner.post("/reservations", {"code": used.code}), 409, "voucher_already_redeemed")


def test_reserving_an_unknown_code(partner):
    assert_error(partner.post("/reservations", {"code": "0000-0000-0000-0"}), 404, "not_found", "code")


def test_reserving_needs_the_redemptions_write_scope(read_only_partner, voucher):
    assert_error(read_only_partner.post("/reservations", {"code": voucher.code}), 403, "permission_denied")


def test_releasing_frees_the_use(partner, voucher):
    reservation_id = partner.post("/reservations", {"code": voucher.code}).json()["id"]

    response = partner.call("DELETE", f"/reservations/{reservation_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    voucher.refresh_from_db()
    assert voucher.uses_reserved == 0
    assert partner.post("/redemptions", {"code": voucher.code}).status_code == 201


def test_releasing_twice_answers_the_same(partner, voucher):
    reservation_id = partner.post("/reservations", {"code": voucher.code}).json()["id"]
    partner.call("DELETE", f"/reservations/{reservation_id}")

    assert partner.call("DELETE", f"/reservations/{reservation_id}").status_code == 204
    voucher.refresh_from_db()
    assert voucher.uses_reserved == 0


def test_a_reservation_used_by_a_redemption_cannot_be_released(partner, voucher):
    reservation_id = partner.post("/reservations", {"code": voucher.code}).json()["id"]
    partner.post("/redemptions", {"code": voucher.code, "reservation": reservation_id})

    assert_error(partner.call("DELETE", f"/reservations/{reservation_id}"), 409, "reservation_not_active")


def test_releasing_needs_the_scope(partner, read_only_partner, voucher):
    reservation_id = partner.post("/reservations", {"code": voucher.code}).json()["id"]

    assert_error(
        read_only_partner.call("DELETE", f"/reservations/{reservation_id}"), 403, "permission_denied"
    )


def test_releasing_an_unknown_reservation(partner):
    assert_error(partner.call("DELETE", "/reservations/rsv_" + "0" * 20), 404, "not_found")
