"""A member downloads everything Perkline holds about them, and nothing about anyone else."""

import json

import pytest
from django.urls import reverse

from loyalty.members.models import Dimension, LinkStart, LookupPurpose
from loyalty.members.services import consent_set, member_lookup_record
from loyalty.points.services import points_adjust
from perks.vouchers.codes import code_format
from perks.vouchers.services import voucher_claim
from tests.factories import HoldFactory, JoinedMemberFactory, MerchantFactory, PerkFactory
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db


def _export(client, member):
    client.force_login(member.user)
    response = client.get(reverse("app:privacy-export"))
    assert response.status_code == 200
    return response, json.loads(response.content)


def test_the_download_holds_the_members_data_from_every_part(client):
    member = JoinedMemberFactory.create()
    consent_set(member=member, dimension=Dimension.PAYMENT_HISTORY, granted=True, source="app")
    points_adjust(member=member, points=200, note="welcome", idempotency_key="w", actor="test")
    voucher = voucher_claim(perk=PerkFactory.create(points_cost=120), member=member, idempotency_key="c")
    HoldFactory.create(member=member)
    member_lookup_record(
        member=member,
        merchant_ref="mch_0000000000000000000a",
        merchant_name="Swift",
        purpose=LookupPurpose.BENEFITS,
    )

    response, data = _export(client, member)

    assert response["Content-Disposition"] == f'attachment; filename="perkline-{member.ref}.json"'
    assert "no-store" in response["Cache-Control"]
    assert data["member"]["ref"] == member.ref
    assert data["member"]["email"] == member.user.email
    assert {"dimension": "payment_history", "granted": True} in [
        {k: c[k] for k in ("dimension", "granted")} for c in data["consents"]
    ]
    assert data["points"]["balance"] == 80
    assert [line["points"] for line in data["points"]["statement"]] == [-120, 200]
    assert [v["code"] for v in data["vouchers"]] == [code_format(voucher.code)]
    assert len(data["holds"]) == 1
    assert data["holds"][0]["lift_condition"]
    assert [lookup["merchant_name"] for lookup in data["lookups"]] == ["Swift"]
    assert data["scores"]
    assert data["tier_changes"]


def test_nothing_about_another_member_is_in_it(client):
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    HoldFactory.create(member=other)
    points_adjust(member=other, points=50, note="theirs", idempotency_key="o", actor="test")

    _, data = _export(client, member)

    assert other.ref not in json.dumps(data)
    assert data["holds"] == []
    assert data["points"] == {"balance": 0, "statement": []}


def test_the_download_holds_every_link_with_merchants_and_only_the_members(client):
    member, other = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    rental, hotel = MerchantFactory.create(name="Jade Road"), MerchantFactory.create(name="Lantern")
    linked(member, rental, how=LinkStart.PASS)
    unlinked(member, hotel)
    linked(other, hotel)

    _, data = _export(client, member)

    assert [(link["merchant_name"], link["started_by"], link["ended_by"]) for link in data["links"]] == [
        ("Jade Road", "pass", ""),
        ("Lantern", "sharing", "member"),
    ]
    assert data["links"][0]["merchant_ref"] == rental.ref
    assert data["links"][0]["ended_at"] is None
    assert data["links"][1]["ended_at"] is not None


def test_signed_out_visitors_cannot_download(client):
    response = client.get(reverse("app:privacy-export"))

    assert response.status_code == 302
