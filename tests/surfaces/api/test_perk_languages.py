"""A perk's Chinese title and description through the partner API: optional additions to
the contract, which is otherwise unchanged."""

import pytest

from perks.catalog.models import Perk
from tests.factories import PerkFactory
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db

COFFEE = {"type": "free_item", "title": "A free coffee", "params": {"item": "Flat white"}}
IN_CHINESE = {"title_zh": "免费咖啡一杯", "description_zh": "任意手冲咖啡，每天一杯。"}


def test_a_perk_is_created_with_its_chinese_title_and_description(partner):
    response = partner.post("/perks", {**COFFEE, "description": "Any coffee, once a day.", **IN_CHINESE})

    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["description"]) == ("A free coffee", "Any coffee, once a day.")
    assert (body["title_zh"], body["description_zh"]) == (
        IN_CHINESE["title_zh"],
        IN_CHINESE["description_zh"],
    )
    perk = Perk.objects.get(ref=body["id"])
    assert (perk.title_zh, perk.description_zh) == (IN_CHINESE["title_zh"], IN_CHINESE["description_zh"])
    assert partner.get(f"/perks/{body['id']}").json() == body


def test_without_them_the_chinese_fields_read_empty_and_the_rest_is_as_before(partner):
    body = partner.post("/perks", COFFEE).json()

    assert (body["title_zh"], body["description_zh"]) == ("", "")
    assert set(body) - {"title_zh", "description_zh"} == {
        "id",
        "type",
        "title",
        "description",
        "params",
        "min_tier",
        "min_score",
        "hold_free_days",
        "points_cost",
        "valid_from",
        "valid_until",
        "inventory",
        "issued_count",
        "per_member_limit",
        "limit_period",
        "uses_per_voucher",
        "voucher_ttl_days",
        "auto_issue",
        "status",
        "created_at",
    }


def test_lists_carry_the_chinese_fields(partner):
    PerkFactory.create(merchant=partner.merchant, title_zh="免费咖啡")

    assert partner.get("/perks").json()["data"][0]["title_zh"] == "免费咖啡"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title_zh", "咖" * 121),
        ("title_zh", 12345),
        ("title_zh", None),
        ("description_zh", "啡" * 2001),
        ("description_zh", ["任意"]),
    ],
)
def test_a_bad_chinese_field_is_a_validation_error_naming_it(partner, field, value):
    assert_error(partner.post("/perks", {**COFFEE, field: value}), 400, "validation_error", param=field)
    assert not Perk.objects.exists()


def test_a_chinese_title_is_trimmed_like_the_english_one(partner):
    body = partner.post("/perks", {**COFFEE, "title_zh": "  免费咖啡  "}).json()

    assert body["title_zh"] == "免费咖啡"


@pytest.fixture
def schema(client):
    return client.get("/api/schema/?format=json").json()


def test_the_schema_describes_the_chinese_fields(schema):
    components = schema["components"]["schemas"]
    assert {"title_zh", "description_zh"} <= set(components["Perk"]["properties"])
    assert {"title_zh", "description_zh"} <= set(components["PerkCreateRequest"]["properties"])
    assert "title_zh" not in components["PerkCreateRequest"].get("required", [])
