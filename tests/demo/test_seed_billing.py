"""The demo's billing: every merchant on the plan, at Stripe when keys are set, and with
Stripe off a deposit through the API is waived or refused saying why, never an error."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from perks.billing.models import BillingProfile, Invoice, PlanPrice
from perks.merchants.models import Merchant

pytestmark = pytest.mark.django_db


def _seeded(tmp_path):
    output = tmp_path / "demo.json"
    call_command("seed_demo", "--output", str(output))
    return json.loads(output.read_text())


def test_without_stripe_keys_every_merchant_is_on_the_plan_with_stripe_off(tmp_path):
    manifest = _seeded(tmp_path)

    plan = PlanPrice.objects.get(is_default=True)
    assert plan.redemption_fees.count() == 5
    profiles = BillingProfile.objects.all()
    assert profiles.count() == Merchant.objects.count() == len(manifest["merchants"])
    for profile in profiles:
        assert (profile.plan, profile.stripe_customer_id, profile.stripe_subscription_id) == (plan, "", "")
        assert profile.stripe_account.startswith("acct_")


def test_without_stripe_keys_a_deposit_is_waived_or_refused_with_a_clear_reason(tmp_path):
    manifest = _seeded(tmp_path)
    rental = next(m for m in manifest["merchants"] if m["category"] == "car_rental")
    api = Client()

    answers = [
        api.post(
            "/api/v1/deposits",
            {"member": member["ref"], "amount": "3000.00", "currency": "CNY"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {rental['api_key']}"},
        )
        for member in manifest["members"]
    ]

    statuses = {answer.status_code for answer in answers}
    assert statuses <= {201, 422}
    refused = [answer.json()["error"] for answer in answers if answer.status_code == 422]
    assert refused
    assert {error["code"] for error in refused} == {"payment_failed"}
    assert all("no payment provider is configured" in error["message"] for error in refused)
    waived = [answer.json() for answer in answers if answer.status_code == 201]
    assert all(deposit["status"] == "waived" and deposit["waived_by"] for deposit in waived)


def test_with_stripe_keys_every_merchant_is_a_subscribed_customer_with_a_connected_account(
    stripe_on, tmp_path
):
    _seeded(tmp_path)

    for profile in BillingProfile.objects.select_related("merchant"):
        assert profile.stripe_customer_id.startswith("cus_")
        assert profile.stripe_subscription_id.startswith("sub_")
        assert profile.stripe_account.startswith("acct_")
        customer = stripe_on.get(f"/v1/customers/{profile.stripe_customer_id}")
        assert customer["invoice_settings"]["default_payment_method"]
        assert customer["metadata"] == {"perkline_merchant": profile.merchant.ref}
    assert PlanPrice.objects.get(is_default=True).stripe_plan_id
    assert Invoice.objects.count() == Merchant.objects.count()  # each subscription's first month
