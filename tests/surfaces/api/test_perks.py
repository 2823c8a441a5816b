"""GET /perks, GET /perks/{id}, POST /perks: the contract's fields, keyset pages, newest first."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from perks.catalog.models import Perk
from perks.merchants.models import AuditEntry
from tests.factories import PerkFactory
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db

DEPOSIT_WAIVER = {
    "type": "deposit_waiver",
    "title": "Rent without a deposit (up to 5,000 CNY)",
    "params": {"max_amount": "5000.00", "currency": "CNY"},
    "min_score": 650,
    "hold_free_days": 180,
    "points_cost": 0,
    "valid_from": "2026-05-01T09:00:00+08:00",
    "valid_until": "2027-05-01T09:00:00+08:00",
    "inventory": 500,
    "per_member_limit": 2,
    "limit_period": "month",
    "uses_per_voucher": 1,
    "voucher_ttl_days": 30,
    "status": "active",
}


def test_create_a_perk_with_every_field_of_the_contract(partner):
    response = partner.post("/perks", DEPOSIT_WAIVER)

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("prk_")
    for field in ("type", "title", "params", "min_score", "hold_free_days", "points_cost", "inventory"):
        assert body[field] == DEPOSIT_WAIVER[field], field
    for field in ("per_member_limit", "limit_period", "uses_per_voucher", "voucher_ttl_days", "status"):
        assert body[field] == DEPOSIT_WAIVER[field], field
    assert body["valid_from"] == "2026-05-01T09:00:00+08:00"
    assert body["min_tier"] is None
    assert body["issued_count"] == 0
    perk = Perk.objects.get(ref=body["id"])
    assert perk.merchant == partner.merchant
    audit = AuditEntry.objects.get(action="perk.created", target=perk.ref)
    assert audit.actor_key is not None
    assert audit.actor_key.merchant == partner.merchant


def test_min_tier_is_a_tier_slug(partner):
    response = partner.post(
        "/perks",
        {
            "type": "access_pass",
            "title": "Lounge",
            "min_tier": "gold",
            "params": {"venue": "PVG T2", "kind": "lounge", "entries_per_voucher": 4},
        },
    )

    assert response.status_code == 201
    assert response.json()["min_tier"] == "gold"
    assert response.json()["uses_per_voucher"] == 4


def test_a_minimal_perk_takes_the_defaults(partner):
    response = partner.post(
        "/perks", {"type": "free_item", "title": "Coffee", "params": {"item": "Flat white"}}
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["points_cost"], body["voucher_ttl_days"], body["uses_per_voucher"]) == (
        "draft",
        0,
        30,
        1,
    )


def test_a_rule_of_the_perk_type_names_its_parameter(partner):
    body = {**DEPOSIT_WAIVER, "params": {"max_amount": "-1", "currency": "CNY"}}

    assert_error(partner.post("/perks", body), 400, "validation_error", param="params.max_amount")


def test_a_perk_reads_back_as_it_was_created(partner):
    created = partner.post("/perks", DEPOSIT_WAIVER).json()

    response = partner.get(f"/perks/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_another_merchants_perk_is_not_found(partner, other_partner):
    theirs = PerkFactory.create(merchant=other_partner.merchant)

    assert_error(partner.get(f"/perks/{theirs.ref}"), 404, "not_found")


def test_an_empty_list(partner):
    response = partner.get("/perks")

    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False}


def test_lists_show_only_this_merchants_perks_newest_first(partner, other_partner):
    start = timezone.now()
    mine = []
    for minutes in range(3):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            mine.append(PerkFactory.create(merchant=partner.merchant).ref)
    PerkFactory.create(merchant=other_partner.merchant)

    response = partner.get("/perks")

    assert [perk["id"] for perk in response.json()["data"]] == mine[::-1]


def _walk(partner, limit):
    """Every page, following starting_after, as a partner's sync job would."""
    seen, query = [], {"limit": limit}
    while True:
        page = partner.get("/perks", **query).json()
        assert len(page["data"]) <= limit
        seen += [perk["id"] for perk in page["data"]]
        if not page["has_more"]:
            return seen
        query = {"limit": limit, "starting_after": page["data"][-1]["id"]}


def test_pages_cover_every_perk_once_even_when_created_in_the_same_instant(partner):
    with time_machine.travel(timezone.now(), tick=False):
        perks = [PerkFactory.create(merchant=partner.merchant).ref for _ in range(7)]
    later = PerkFactory.create(merchant=partner.merchant).ref

    seen = _walk(partner, limit=3)

    assert seen[0] == later
    assert sorted(seen) == sorted([*perks, later])
    assert len(seen) == len(set(seen)) == 8


def test_default_and_largest_page(partner):
    PerkFactory.create_batch(101, merchant=partner.merchant)

    default = partner.get("/perks").json()
    largest = partner.get("/perks", limit=100).json()
    last = partner.get("/perks", limit=100, starting_after=largest["data"][-1]["id"]).json()

    assert (len(default["data"]), default["has_more"]) == (20, True)
    assert (len(largest["data"]), largest["has_more"]) == (100, True)
    assert (len(last["data"]), last["has_more"]) == (1, False)


def test_starting_after_another_merchants_perk_is_refused(partner, other_partner):
    PerkFactory.create(merchant=partner.merchant)
    theirs = PerkFactory.create(merchant=other_partner.merchant)

    assert_error(
        partner.get("/perks", starting_after=theirs.ref), 400, "validation_error", param="starting_after"
    )


def test_lists_read_in_a_bounded_number_of_queries(partner, django_assert_max_num_queries):
    PerkFactory.create_batch(30, merchant=partner.merchant, min_tier_id=None)
    last = partner.get("/perks", limit=5).json()["data"][-1]["id"]

    with django_assert_max_num_queries(4):
        partner.get("/perks", limit=50, starting_after=last)
