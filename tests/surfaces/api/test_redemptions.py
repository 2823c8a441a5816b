"""POST /redemptions, GET /redemptions, GET /redemptions/{id}, POST /redemptions/{id}/reversal."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from perks.catalog.models import PerkStatus
from perks.merchants.models import WebhookDelivery
from perks.merchants.services import webhook_endpoint_create
from perks.vouchers.codes import code_format
from perks.vouchers.models import (
    Redemption,
    RedemptionReversal,
    Reservation,
    ReservationStatus,
    VoucherStatus,
)
from tests.factories import HoldFactory, JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory
from tests.factories.vouchers import VoucherFactory
from tests.perks.merchants.test_webhook_delivery import verify_signature, wait_until
from tests.support.receiver import Receiver
from tests.surfaces.api.conftest import assert_error

KEY = "3f1a8c52-7e44-4d0e-9b1f-5c2d7a9e0b13"


@pytest.fixture
def member(db):
    return JoinedMemberFactory.create()


@pytest.fixture
def discount(partner):
    return PerkFactory.create(
        merchant=partner.merchant, type="discount", params={"percent": "10", "currency": "CNY"}
    )


@pytest.fixture
def voucher(discount, member):
    return VoucherFactory.create(perk=discount, member=member)


def _redeem(partner, voucher, **body):
    return partner.post("/redemptions", {"code": code_format(voucher.code).lower(), **body})


@pytest.mark.django_db
def test_a_redemption_uses_the_voucher_and_says_what_it_gave(partner, voucher):
    response = _redeem(partner, voucher, amount="42.00", currency="CNY", metadata={"receipt": "R-42"})

    assert response.status_code == 201, response.content
    body = response.json()
    redemption = Redemption.objects.get()
    assert body["id"] == redemption.ref
    assert body["voucher"] == code_format(voucher.code)
    assert body["benefit"]["discount_amount"] == "4.20"
    assert body["uses_remaining"] == 0
    assert body["amount"] == "42.00"
    assert body["metadata"] == {"receipt": "R-42"}
    assert body["channel"] == "api"
    assert body["created_at"]
    voucher.refresh_from_db()
    assert (voucher.uses_count, voucher.status) == (1, VoucherStatus.REDEEMED)


@pytest.mark.django_db
def test_a_redemption_at_a_location(partner, voucher):
    LocationFactory.create(merchant=partner.merchant, code="SH-01")

    assert _redeem(partner, voucher, location="SH-01").json()["location"] == "SH-01"
    assert_error(
        _redeem(partner, VoucherFactory.create(perk=voucher.perk), location="XX"),
        400,
        "validation_error",
        "location",
    )


@pytest.mark.django_db
def test_a_replay_returns_the_first_response_and_redeems_once(partner, voucher):
    first = partner.post("/redemptions", {"code": voucher.code}, idempotency_key=KEY)
    again = partner.post("/redemptions", {"code": voucher.code}, idempotency_key=KEY)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1
    voucher.refresh_from_db()
    assert voucher.uses_count == 1


@pytest.mark.django_db
def test_the_same_key_for_another_voucher_is_refused(partner, voucher, discount):
    partner.post("/redemptions", {"code": voucher.code}, idempotency_key=KEY)
    other = VoucherFactory.create(perk=discount)

    assert_error(
        partner.post("/redemptions", {"code": other.code}, idempotency_key=KEY), 422, "idempotency_key_reused"
    )
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_a_second_redemption_without_a_key_is_a_conflict(partner, voucher):
    _redeem(partner, voucher)

    assert_error(_redeem(partner, voucher), 409, "voucher_already_redeemed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": VoucherStatus.REVOKED}, "voucher_revoked"),
        (
            {
                "expires_at": timezone.now() - timedelta(seconds=1),
                "issued_at": timezone.now() - timedelta(days=2),
            },
            "voucher_expired",
        ),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "voucher_not_yet_valid"),
    ],
)
def test_refusals_of_the_voucher_itself(partner, discount, fields, code):
    voucher = VoucherFactory.create(perk=discount, **fields)

    assert_error(_redeem(partner, voucher), 422, code)
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_refusals_of_the_member_and_the_perk(partner, discount, member):
    on_hold = VoucherFactory.create(perk=discount, member=member)
    HoldFactory.create(member=member, merchant_ref=partner.merchant.ref, category="all")
    assert_error(_redeem(partner, on_hold), 422, "member_on_hold")

    paused = PerkFactory.create(merchant=partner.merchant, status=PerkStatus.PAUSED)
    assert_error(_redeem(partner, VoucherFactory.create(perk=paused)), 422, "perk_inactive")

    high = PerkFactory.create(merchant=partner.merchant, min_score=900)
    assert_error(_redeem(partner, VoucherFactory.create(perk=high)), 422, "member_not_eligible")


@pytest.mark.django_db
def test_a_reservation_is_consumed_by_its_redemption(partner, voucher):
    reservation_id = partner.post("/reservations", {"code": voucher.code}).json()["id"]
    assert_error(_redeem(partner, voucher), 409, "voucher_reserved")

    assert _redeem(partner, voucher, reservation=reservation_id).status_code == 201
    assert Reservation.objects.get().status == ReservationStatus.CONSUMED
    assert_error(_redeem(partner, voucher, reservation=reservation_id), 409, "reservation_not_active")


@pytest.mark.django_db
def test_an_unknown_code_or_reservation_is_not_found(partner, voucher):
    assert_error(partner.post("/redemptions", {"code": "0000-0000-0000-0"}), 404, "not_found", "code")
    assert_error(_redeem(partner, voucher, reservation="rsv_" + "0" * 20), 404, "not_found", "reservation")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "code"),
        ({"amount": "1.00"}, "currency"),
        ({"amount": 1.5, "currency": "CNY"}, "amount"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": {str(i): "v" for i in range(21)}}, "metadata"),
        ({"tip": "1"}, "tip"),
    ],
)
def test_a_malformed_redemption_is_a_validation_error(partner, voucher, body, param):
    response = partner.post("/redemptions", {"code": voucher.code, **body} if body else {})

    assert_error(response, 400, "validation_error", param)


@pytest.mark.django_db
def test_redeeming_needs_the_redemptions_write_scope(read_only_partner, voucher):
    assert_error(_redeem(read_only_partner, voucher), 403, "permission_denied")


@pytest.mark.django_db
def test_list_and_get(partner, discount):
    refs = [_redeem(partner, VoucherFactory.create(perk=discount)).json()["id"] for _ in range(3)]

    page = partner.get("/redemptions", limit=2).json()
    assert [r["id"] for r in page["data"]] == refs[::-1][:2]
    assert page["has_more"] is True
    rest = partner.get("/redemptions", limit=2, starting_after=refs[1]).json()
    assert [r["id"] for r in rest["data"]] == [refs[0]]
    assert rest["has_more"] is False
    assert partner.get(f"/redemptions/{refs[0]}").json()["id"] == refs[0]
    assert_error(partner.get("/redemptions/red_" + "0" * 20), 404, "not_found")
    assert_error(partner.get("/redemptions", limit=0), 400, "validation_error", "limit")


@pytest.mark.django_db
def test_a_reversal_gives_the_use_back(partner, voucher):
    redemption_id = _redeem(partner, voucher).json()["id"]

    response = partner.post(f"/redemptions/{redemption_id}/reversal", {"reason": "Order cancelled"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["redemption"], body["uses_remaining"], body["reason"]) == (
        redemption_id,
        1,
        "Order cancelled",
    )
    voucher.refresh_from_db()
    assert (voucher.uses_count, voucher.status) == (0, VoucherStatus.ISSUED)
    assert partner.get(f"/redemptions/{redemption_id}").json()["reversed_at"] is not None
    assert_error(partner.post(f"/redemptions/{redemption_id}/reversal", {}), 409, "already_reversed")
    assert RedemptionReversal.objects.count() == 1


@pytest.mark.django_db
def test_a_reversal_after_the_window_is_refused(partner, voucher):
    redemption_id = _redeem(partner, voucher).json()["id"]

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        response = partner.post(f"/redemptions/{redemption_id}/reversal", {})

    assert_error(response, 409, "reversal_window_closed")


@pytest.mark.django_db
def test_a_reversal_needs_the_scope_and_a_known_redemption(partner, read_only_partner, voucher):
    redemption_id = _redeem(partner, voucher).json()["id"]

    assert_error(
        read_only_partner.post(f"/redemptions/{redemption_id}/reversal", {}), 403, "permission_denied"
    )
    assert_error(partner.post("/redemptions/red_" + "0" * 20 + "/reversal", {}), 404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_the_voucher_redeemed_webhook_is_signed_as_the_contract_says(
    partner, voucher, celery_worker, settings
):
    """A redemption through the API, its side effects on a real worker, the delivery
    received over HTTP, and its signature recomputed from the contract alone."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    owner = StaffFactory.create(merchant=partner.merchant).user
    with Receiver([200]).running() as receiver:
        created = webhook_endpoint_create(
            merchant=partner.merchant, actor=owner, url=receiver.url, event_types=["voucher.redeemed"]
        )
        redemption_id = _redeem(partner, voucher).json()["id"]
        wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists())

    (request,) = receiver.received
    assert verify_signature(request.headers["Perkline-Signature"], request.body, created.secret)
    assert not verify_signature(request.headers["Perkline-Signature"], request.body + b" ", created.secret)
    event = json.loads(request.body)
    assert event["type"] == "voucher.redeemed"
    assert redemption_id in json.dumps(event["data"])


# Round trips to the database of one idempotent redemption, from the key's look-up to the
# stored response (no savepoint: a refusal rolls back whole), with a perk that checks score and recent holds.
# The redeem path is the hot one (bench/redeem_api.py): a new query must be a choice. The
# holds are their own statement (scoring's), asked with values: vouchers no longer paste
# scoring's SQL into their read.
REDEMPTION_QUERIES = {"postgresql": 8, "sqlite": 9}


@pytest.mark.django_db
def test_a_redemption_costs_a_pinned_number_of_queries(partner, member):
    perk = PerkFactory.create(
        merchant=partner.merchant,
        type="discount",
        params={"percent": "10", "currency": "CNY"},
        min_score=400,
        hold_free_days=90,
    )
    first, second = (
        VoucherFactory.create(perk=perk, member=member),
        VoucherFactory.create(perk=perk, member=member),
    )
    _redeem(partner, first, amount="42.00", currency="CNY")  # caches warm, as in a running server

    with CaptureQueriesContext(connection) as queries:
        response = partner.post(
            "/redemptions", {"code": second.code, "amount": "42.00", "currency": "CNY"}, idempotency_key=KEY
        )

    assert response.status_code == 201
    assert len(queries) == REDEMPTION_QUERIES[connection.vendor], "\n".join(q["sql"][:120] for q in queries)
