"""A perk's Chinese title and description: kept beside the English, checked by the same
rules, changed and audited like any field, and edited by operators in the admin."""

from typing import Any

import pytest
from django.urls import reverse

from loyalty.core.errors import Invalid
from perks.catalog.models import Perk
from perks.catalog.services import perk_create, perk_update
from perks.merchants.models import AuditEntry
from tests.factories import PerkFactory

pytestmark = pytest.mark.django_db

COFFEE: dict[str, Any] = {"type": "free_item", "title": "A free coffee", "params": {"item": "Flat white"}}


def test_a_perk_keeps_both_languages(merchant, owner):
    perk = perk_create(
        merchant=merchant, actor=owner, **COFFEE, title_zh=" 免费咖啡 ", description_zh="每天一杯。"
    )

    perk.refresh_from_db()
    assert (perk.title, perk.title_zh, perk.description_zh) == ("A free coffee", "免费咖啡", "每天一杯。")


def test_a_perk_made_without_them_has_them_empty(merchant, owner):
    perk = perk_create(merchant=merchant, actor=owner, **COFFEE)

    perk.refresh_from_db()
    assert (perk.title_zh, perk.description_zh) == ("", "")


@pytest.mark.parametrize(
    ("field", "value"),
    [("title_zh", "咖" * 121), ("description_zh", "啡" * 2001), ("title_zh", 5), ("description_zh", ["x"])],
)
def test_the_chinese_texts_keep_the_english_limits(merchant, owner, field, value):
    with pytest.raises(Invalid) as refused:
        perk_create(merchant=merchant, actor=owner, **COFFEE, **{field: value})

    assert refused.value.param == field
    assert not Perk.objects.exists()


def test_a_change_of_the_chinese_title_is_audited(merchant, owner):
    perk = PerkFactory.create(merchant=merchant)

    perk_update(perk=perk, actor=owner, changes={"title_zh": "免费咖啡"})

    assert perk.title_zh == "免费咖啡"
    audit = AuditEntry.objects.get(action="perk.updated", target=perk.ref)
    assert audit.params == {"title_zh": "免费咖啡"}


def test_operators_edit_the_chinese_texts_in_the_admin(admin_client):
    perk = PerkFactory.create(inventory=10)
    url = reverse("admin:catalog_perk_change", args=[perk.pk])
    form = admin_client.get(url).context["adminform"].form
    assert {"title_zh", "description_zh"} <= set(form.fields)
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        {"params": '{"item": "Flat white"}', "valid_from_0": "2026-01-01", "valid_from_1": "00:00:00"}
    )
    data.pop("valid_from", None)
    data.update({"title_zh": "免费咖啡", "description_zh": "每天一杯。"})

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    perk.refresh_from_db()
    assert (perk.title_zh, perk.description_zh) == ("免费咖啡", "每天一杯。")
    assert (
        admin_client.get(reverse("admin:catalog_perk_changelist"), {"q": "免费"}).context["cl"].result_count
        == 1
    )


@pytest.mark.parametrize(("language", "title"), [("en", "A free coffee"), ("zh-hans", "免费咖啡")])
def test_the_portal_names_perks_in_the_active_language(client, merchant, owner, language, title):
    PerkFactory.create(merchant=merchant, title="A free coffee", title_zh="免费咖啡")
    client.force_login(owner)

    page = client.get(
        reverse("portal:dashboard", args=[merchant.slug]), headers={"Accept-Language": language}
    )

    assert title in page.content.decode()
