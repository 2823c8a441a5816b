"""POST /deposits, GET /deposits, GET /deposits/{id}, POST /deposits/{id}/release and
/capture, through the API against a real localstripe: every path a deposit takes (waived,
held on a saved card, a card saved first, 3-D Secure), and Stripe off or down.

A card saved in the member's browser is done here as Stripe.js sends it; the same paths
through Chromium and localstripe's Stripe.js are in tests/surfaces/app/test_deposits_browser.py.
"""

import pytest

from loyalty.members.models import LookupPurpose, MemberLookup
from loyalty.members.services import member_pass_issue
from perks.billing.models import Deposit, MemberStripeCustomer
from perks.merchants.models import WebhookEvent
from perks.merchants.permissions import Scope
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from surfaces.api.models import IdempotencyRecord
from tests.factories import JoinedMemberFactory
from tests.perks.billing.test_client_secrets import stored_secret
from tests.support.billing import CARD_3DS, connected, linked_member, waiver
from tests.support.stripe import free_port
from tests.surfaces.api.conftest import assert_error, partner_of

pytestmark = pytest.mark.django_db

FIELDS = {"id", "status", "amount", "currency", "waived_by", "client_secret", "expires_at"}


@pytest.fixture
def member(partner):
    return linked_member(partner.merchant)


@pytest.fixture
def rental(stripe_on, partner):
    """The partner's merchant holds card deposits on its connected account."""
    return connected(partner.merchant)


def ask(partner, member, amount="300.00", idempotency_key=None, **more):
    body = {"member": member.ref, "amount": amount, "currency": "CNY", **more}
    return partner.post("/deposits", body, idempotency_key=idempotency_key)


def created(partner, member, amount="300.00", **more):
    response = ask(partner, member, amount, **more)
    assert response.status_code == 201, response.content
    assert set(response.json()) >= FIELDS
    return response.json()


def read(partner, deposit):
    response = partner.get(f"/deposits/{deposit['id']}")
    assert response.status_code == 200, response.content
    return response.json()


def card_saved(stripe, partner, member):
    """The member has a card saved for this merchant: saved in the browser for a first deposit."""
    first = created(partner, member, amount="1.00")
    stripe.card_setup_confirm(first["client_secret"])
    assert read(partner, first)["status"] == "held"


def _intent(stripe, deposit):
    return stripe.get(f"/v1/payment_intents/{Deposit.objects.get(ref=deposit['id']).payment_intent_id}")


def held(stripe, partner, member, amount="500.00"):
    card_saved(stripe, partner, member)
    deposit = created(partner, member, amount)
    assert deposit["status"] == "held"
    return deposit


# --- Asked ---------------------------------------------------------------------------------------


def test_a_covering_waiver_waives_the_deposit_and_names_the_voucher(partner, member):
    voucher = waiver(partner.merchant, member, max_amount="500.00")

    deposit = created(partner, member, amount="300.00")

    assert (deposit["status"], deposit["amount"], deposit["currency"]) == ("waived", "300.00", "CNY")
    assert deposit["waived_by"] == code_format(voucher.code)
    assert (deposit["client_secret"], deposit["member"]) == (None, member.ref)
    assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.REDEEMED
    assert read(partner, deposit) == deposit
    assert MemberLookup.objects.filter(member=member, purpose=LookupPurpose.DEPOSIT).count() == 1


def test_with_stripe_off_and_no_waiver_it_is_payment_failed_saying_why(partner, member):
    error = assert_error(ask(partner, member), 422, "payment_failed")

    assert "no payment provider is configured" in error["message"]
    assert not Deposit.objects.exists()


def test_without_a_saved_card_the_member_is_asked_for_one_and_reading_it_later_finds_it_held(
    rental, stripe_on, partner, member
):
    deposit = created(partner, member)
    assert deposit["status"] == "requires_payment_method"
    assert deposit["client_secret"].startswith("seti_")
    assert deposit["expires_at"]
    assert read(partner, deposit)["status"] == "requires_payment_method"  # nothing saved yet

    stripe_on.card_setup_confirm(deposit["client_secret"])  # the partner's checkout, with Stripe.js

    now = read(partner, deposit)
    assert (now["status"], now["client_secret"]) == ("held", None)
    assert [d["status"] for d in partner.get("/deposits").json()["data"]] == ["held"]
    assert WebhookEvent.objects.filter(type="deposit.held").count() == 1


def test_a_pending_deposit_shows_its_secret_when_read_though_its_column_holds_a_token(
    rental, stripe_on, partner, member
):
    deposit = created(partner, member)

    secret = deposit["client_secret"]
    assert read(partner, deposit)["client_secret"] == secret
    assert [d["client_secret"] for d in partner.get("/deposits").json()["data"]] == [secret]
    assert secret not in stored_secret(Deposit.objects.get(ref=deposit["id"]))


def test_a_replay_answers_the_same_but_without_the_secret_which_reading_the_deposit_gives(
    rental, stripe_on, partner, member
):
    first = ask(partner, member, idempotency_key="deposit-1")
    again = ask(partner, member, idempotency_key="deposit-1")

    secret = first.json()["client_secret"]
    assert secret.startswith("seti_")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == {**first.json(), "client_secret": None}
    assert Deposit.objects.count() == 1
    (kept,) = IdempotencyRecord.objects.filter(merchant=partner.merchant).values_list(
        "response_body", flat=True
    )
    assert secret not in kept
    assert read(partner, again.json())["client_secret"] == secret


def test_a_saved_card_holds_the_next_deposit_at_once(rental, stripe_on, partner, member):
    card_saved(stripe_on, partner, member)

    deposit = created(partner, member, amount="250.00", capture_policy="capture")

    assert (deposit["status"], deposit["amount"], deposit["capture_policy"]) == ("held", "250.00", "capture")
    assert deposit["client_secret"] is None
    intent = _intent(stripe_on, deposit)
    assert (intent["status"], intent["amount"], intent["capture_method"]) == (
        "requires_capture",
        25000,
        "manual",
    )


def test_a_card_asking_for_3d_secure_is_requires_action_until_the_member_authenticates(
    rental, stripe_on, partner, member
):
    created(partner, member, amount="1.00")  # the member's customer at the merchant is made
    stripe_on.card_attach(MemberStripeCustomer.objects.get(member=member).customer_id, CARD_3DS)

    deposit = created(partner, member)

    assert deposit["status"] == "requires_action"
    assert deposit["client_secret"].startswith("pi_")
    stripe_on.card_authenticate(deposit["client_secret"])  # confirmCardPayment in the browser
    assert read(partner, deposit)["status"] == "held"


def test_a_member_pass_names_the_member_and_links_them(partner):
    member = JoinedMemberFactory.create()
    waiver(partner.merchant, member)
    assert_error(ask(partner, member), 404, "not_found")  # no link yet: the ref names nobody

    by_pass = {"member_pass": member_pass_issue(member=member), "amount": "300.00", "currency": "CNY"}
    response = partner.post("/deposits", by_pass)

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["member"]) == ("waived", member.ref)
    assert_error(ask(partner, member), 422, "payment_failed")  # linked now; the waiver is used


def test_a_member_with_no_link_is_not_found(partner):
    assert_error(ask(partner, JoinedMemberFactory.create()), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"amount": 300}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"currency": "cny"}, "currency"),
        ({"capture_policy": "keep"}, "capture_policy"),
        ({"location": "NOWHERE"}, "location"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(partner, member, change, param):
    body = {"member": member.ref, "amount": "300.00", "currency": "CNY", **change}

    assert_error(partner.post("/deposits", body), 400, "validation_error", param)
    assert not Deposit.objects.exists()


def test_only_a_key_with_deposits_write_may_ask_release_or_capture(partner, member):
    reader = partner_of(partner.merchant, scopes=[Scope.REDEMPTIONS_WRITE])
    waiver(partner.merchant, member)
    deposit = created(partner, member)

    assert_error(ask(reader, member), 403, "permission_denied")
    for action in ("release", "capture"):
        assert_error(reader.post(f"/deposits/{deposit['id']}/{action}"), 403, "permission_denied")
    assert reader.get(f"/deposits/{deposit['id']}").json() == deposit
    assert Deposit.objects.count() == 1


# --- Held: release and capture -------------------------------------------------------------------


def test_releasing_a_hold_lets_it_go_once(rental, stripe_on, partner, member):
    deposit = held(stripe_on, partner, member)

    response = partner.post(f"/deposits/{deposit['id']}/release")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "released"
    assert _intent(stripe_on, deposit)["status"] == "canceled"
    assert_error(partner.post(f"/deposits/{deposit['id']}/release"), 409, "deposit_not_held")
    assert_error(partner.post(f"/deposits/{deposit['id']}/capture", {}), 409, "deposit_not_held")


def test_capturing_part_of_a_hold_takes_that_part(rental, stripe_on, partner, member):
    deposit = held(stripe_on, partner, member, amount="500.00")

    response = partner.post(f"/deposits/{deposit['id']}/capture", {"amount": "150.00"})

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["captured_amount"]) == ("captured", "150.00")
    charge = _intent(stripe_on, deposit)["latest_charge"]
    assert charge["amount"] - charge["amount_refunded"] == 15000


def test_capturing_more_than_is_held_is_refused_on_amount_and_leaves_the_hold(
    rental, stripe_on, partner, member
):
    deposit = held(stripe_on, partner, member, amount="500.00")

    refused = partner.post(f"/deposits/{deposit['id']}/capture", {"amount": "500.01"})

    assert_error(refused, 400, "validation_error", "amount")
    assert read(partner, deposit)["status"] == "held"
    captured = partner.post(f"/deposits/{deposit['id']}/capture", {}).json()
    assert (captured["status"], captured["captured_amount"]) == ("captured", "500.00")


def test_a_waived_or_pending_deposit_is_not_held(rental, stripe_on, partner, member):
    pending = created(partner, member)
    waiver(partner.merchant, member)
    waived = created(partner, member)

    for deposit in (pending, waived):
        assert_error(partner.post(f"/deposits/{deposit['id']}/release"), 409, "deposit_not_held")
        assert_error(
            partner.post(f"/deposits/{deposit['id']}/capture", {"amount": "1.00"}), 409, "deposit_not_held"
        )


# --- Stripe down ---------------------------------------------------------------------------------


@pytest.fixture
def stripe_down(rental, stripe_on, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return stripe_on


@pytest.mark.parametrize("key", [None, "deposit-1"], ids=["without-key", "with-key"])
def test_stripe_unreachable_is_503_with_retry_after_and_nothing_is_written(stripe_down, partner, member, key):
    response = ask(partner, member, idempotency_key=key)

    error = assert_error(response, 503, "payment_provider_unavailable")
    assert error["type"] == "api_error"
    assert int(response["Retry-After"]) > 0
    assert not Deposit.objects.exists()
    assert not MemberStripeCustomer.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert not MemberLookup.objects.filter(member=member).exists()


def test_after_stripe_comes_back_the_same_key_runs_afresh(stripe_down, settings, partner, member):
    assert ask(partner, member, idempotency_key="deposit-1").status_code == 503

    settings.STRIPE_API_BASE = stripe_down.url
    response = ask(partner, member, idempotency_key="deposit-1")

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    assert Deposit.objects.count() == 1


def test_reading_a_pending_deposit_while_stripe_is_down_shows_it_as_last_known(
    rental, stripe_on, settings, partner, member
):
    deposit = created(partner, member)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    assert read(partner, deposit)["status"] == "requires_payment_method"
    assert partner.get("/deposits").json()["data"][0]["status"] == "requires_payment_method"


# --- Lists ---------------------------------------------------------------------------------------


def test_deposits_are_listed_newest_first_a_page_at_a_time(partner, member):
    for amount in ("100.00", "200.00", "300.00"):
        waiver(partner.merchant, member, max_amount="500.00")
        created(partner, member, amount=amount)

    first = partner.get("/deposits", limit=2).json()
    rest = partner.get("/deposits", limit=2, starting_after=first["data"][-1]["id"]).json()

    assert [d["amount"] for d in first["data"]] == ["300.00", "200.00"]
    assert first["has_more"] is True
    assert ([d["amount"] for d in rest["data"]], rest["has_more"]) == (["100.00"], False)


# --- Schema --------------------------------------------------------------------------------------


def test_the_schema_documents_503_with_retry_after_where_stripe_is_asked(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    for path, method in (
        ("/api/v1/deposits", "post"),
        ("/api/v1/deposits/{deposit_id}/release", "post"),
        ("/api/v1/deposits/{deposit_id}/capture", "post"),
    ):
        response = paths[path][method]["responses"]["503"]
        examples = response["content"]["application/json"]["examples"].values()
        assert {example["value"]["error"]["code"] for example in examples} == {"payment_provider_unavailable"}
        assert response["headers"]["Retry-After"]["required"] is True
    assert "503" not in paths["/api/v1/deposits/{deposit_id}"]["get"]["responses"]  # as last known
    codes = paths["/api/v1/deposits/{deposit_id}/capture"]["post"]["responses"]["409"]["content"]
    assert "deposit_not_held" in str(codes)
