import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from perks.catalog.models import Perk, PerkStatus
from perks.merchants.models import Category, Staff
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_authenticate

pytestmark = pytest.mark.django_db

ISSUE_CATEGORIES = {"car_rental", "fx", "lounge", "rail", "hospital", "coffee", "hotel"}


@pytest.fixture
def manifest(tmp_path):
    output = tmp_path / "demo.json"
    call_command("seed_demo", "--output", str(output))
    return json.loads(output.read_text())


def test_a_merchant_of_each_kind_with_a_working_key_and_staff_logins(manifest):
    merchants = manifest["merchants"]
    assert {m["category"] for m in merchants} == ISSUE_CATEGORIES
    for entry in merchants:
        assert set(entry) == {"slug", "name", "category", "api_key", "staff"}
        key = api_key_authenticate(entry["api_key"])
        assert key is not None
        assert key.merchant.slug == entry["slug"]
        assert sorted(key.scopes) == sorted(Scope.values)
        assert sorted(s["role"] for s in entry["staff"]) == ["cashier", "manager", "owner"]
        for login in entry["staff"]:
            user = authenticate(
                RequestFactory().post("/portal/login/"), username=login["email"], password=login["password"]
            )
            assert user is not None
            assert Staff.objects.get(user=user).role == login["role"]
        assert Category(entry["category"])


def floor(perk: Perk) -> int:
    assert perk.min_tier is not None
    return perk.min_tier.min_score


def test_each_merchant_offers_its_perk_from_the_issue(manifest):
    perks = {p.merchant.category: p for p in Perk.objects.select_related("merchant", "min_tier")}
    assert all(p.status == PerkStatus.ACTIVE for p in perks.values())

    car = perks["car_rental"]
    assert (car.type, car.params, car.min_score, car.hold_free_days) == (
        "deposit_waiver",
        {"max_amount": "5000.00", "currency": "CNY"},
        650,
        180,
    )
    assert (perks["fx"].params["margin_reduction_bps"], perks["fx"].min_score) == (50, 600)
    assert (perks["lounge"].params["entries_per_voucher"], floor(perks["lounge"])) == (4, 700)
    assert (perks["rail"].params["kind"], floor(perks["rail"])) == ("waiting_room", 650)
    assert (perks["hospital"].params["kind"], floor(perks["hospital"])) == ("fast_track", 700)
    assert (perks["coffee"].type, perks["coffee"].points_cost) == ("free_item", 120)
    assert (perks["hotel"].type, floor(perks["hotel"])) == ("deposit_waiver", 600)
