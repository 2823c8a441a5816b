"""While a merchant's billing is paused (an invoice unpaid past its grace period), nothing
new is issued: a gift through the API, a member's claim in the app, a campaign (new, or one
already running), a voucher for a tier reached. The vouchers members already hold stay
redeemable."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.points.selectors import points_balance
from loyalty.points.services import points_adjust
from loyalty.scoring.models import Tier
from perks.billing.errors import MerchantBillingPaused
from perks.billing.models import BillingProfile, BillingStatus
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.campaigns.services import (
    campaign_chunk_issue,
    campaign_create,
    campaign_plan,
    vouchers_auto_issue,
)
from perks.vouchers.models import Campaign, Voucher, VoucherSource, VoucherStatus
from perks.vouchers.services import voucher_claim, voucher_issue
from tests.factories import PerkFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.support.billing import linked_member, paused

pytestmark = pytest.mark.django_db


@pytest.fixture
def perk(merchant):
    return PerkFactory.create(merchant=merchant, title="Free flat white")


@pytest.fixture
def held(perk, member, owner):
    """A voucher the member got before the pause."""
    return voucher_issue(perk=perk, member=member, actor=owner)


@pytest.fixture
def api(merchant, owner):
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).plaintext

    def post(path, body):
        return Client().post(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    return post


def test_the_merchants_gift_is_refused_and_nothing_is_issued(merchant, owner, member, perk):
    paused(merchant)

    with pytest.raises(MerchantBillingPaused) as refused:
        voucher_issue(perk=perk, member=member, actor=owner)

    assert refused.value.code == "merchant_billing_paused"
    assert not Voucher.objects.exists()
    perk.refresh_from_db()
    assert perk.issued_count == 0


def test_post_vouchers_is_422_merchant_billing_paused(merchant, api, perk):
    member = linked_member(merchant)
    paused(merchant)

    response = api("/vouchers", {"perk": perk.ref, "member": member.ref})

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "merchant_billing_paused"
    assert not Voucher.objects.exists()


def test_a_members_claim_is_refused_and_spends_no_points(merchant, member):
    coffee = PerkFactory.create(merchant=merchant, points_cost=100)
    points_adjust(member=member, points=150, note="welcome", idempotency_key="welcome", actor="test")
    paused(merchant)

    with pytest.raises(MerchantBillingPaused):
        voucher_claim(perk=coffee, member=member, idempotency_key="claim-1")

    assert not Voucher.objects.exists()
    assert points_balance(member=member) == 150


def test_the_apps_claim_says_so_and_issues_nothing(client, merchant, member):
    coffee = PerkFactory.create(merchant=merchant, title="Free flat white")
    paused(merchant)
    client.force_login(member.user)

    response = client.post(reverse("app:perk-claim", args=[coffee.ref]), {"claim_key": "0" * 32}, follow=True)

    assert f"{merchant.name} is not giving out new vouchers right now" in response.content.decode()
    assert not Voucher.objects.exists()


def test_a_new_campaign_is_refused_through_the_service_and_the_api(merchant, owner, perk, api):
    paused(merchant)

    with pytest.raises(MerchantBillingPaused):
        campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    response = api("/campaigns", {"perk": perk.ref, "audience": {"min_tier": "gold"}})

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "merchant_billing_paused"
    assert not Campaign.objects.exists()


def test_a_campaign_running_when_billing_is_paused_issues_nothing_more(merchant, owner, perk):
    members_in("gold", 4)
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_tier="gold")
    first, *rest = campaign_plan(campaign_id=campaign.pk, chunk_size=2)
    campaign_chunk_issue(chunk_id=first)

    paused(merchant)
    for chunk_id in rest:
        campaign_chunk_issue(chunk_id=chunk_id)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.issued, campaign.skipped) == ("done", 2, 2)
    assert Voucher.objects.filter(campaign=campaign).count() == 2


def test_no_voucher_for_a_tier_reached_while_paused(merchant):
    PerkFactory.create(merchant=merchant, auto_issue=True, min_tier=Tier.objects.get(slug="gold"))
    (member,) = members_in("gold", 1)
    paused(merchant)

    assert vouchers_auto_issue(member_id=member.pk, tier="gold", previous_tier="silver") == []
    assert not Voucher.objects.filter(source=VoucherSource.AUTO).exists()


def test_vouchers_members_hold_are_still_redeemed_through_the_api(merchant, api, held):
    paused(merchant)

    response = api("/redemptions", {"code": held.code})

    assert response.status_code == 201, response.content
    assert Voucher.objects.get(pk=held.pk).status == VoucherStatus.REDEEMED


def test_resumed_billing_issues_again(merchant, owner, member, perk):
    paused(merchant)
    BillingProfile.objects.filter(merchant=merchant).update(status=BillingStatus.ACTIVE)

    assert voucher_issue(perk=perk, member=member, actor=owner).status == VoucherStatus.ISSUED
