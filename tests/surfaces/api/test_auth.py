"""Who may call: a live key of the merchant, and for writes the view's scope."""

import pytest
from django.test import Client

from perks.merchants.models import ApiKey
from perks.merchants.services import api_key_revoke, merchant_status_set
from surfaces.api.views.base import UNDECLARED, WRITE_METHODS, PartnerView
from tests.surfaces.api.conftest import BASE, api_routes, assert_error

pytestmark = pytest.mark.django_db

PERK = {"type": "free_item", "title": "A free coffee", "params": {"item": "Flat white"}}


def test_a_live_key_reads_its_merchant(partner):
    response = partner.get("/merchant")

    assert response.status_code == 200
    assert response.json() == {
        "id": partner.merchant.ref,
        "name": partner.merchant.name,
        "slug": partner.merchant.slug,
        "category": partner.merchant.category,
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer pk_live_notakey",
        "Bearer pk_live_0123456789ab_0123456789abcdefghjkmnpqrstvwxyz",
        "Bearer \x7f\x80",
    ],
)
def test_a_missing_or_wrong_key_is_401_with_the_scheme_to_use(partner, header):
    headers = {} if header is None else {"Authorization": header}

    response = Client().get(f"{BASE}/merchant", headers=headers)

    error = assert_error(response, 401, "authentication_failed")
    assert error["type"] == "authentication"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in error["message"] or "not valid" in error["message"]


def test_the_scheme_is_case_insensitive(partner):
    response = Client().get(f"{BASE}/merchant", headers={"Authorization": f"bearer {partner.key}"})

    assert response.status_code == 200


def test_a_revoked_key_is_401(partner):
    key = ApiKey.objects.select_related("created_by").get(merchant=partner.merchant)
    assert key.created_by is not None
    api_key_revoke(key=key, actor=key.created_by)

    assert_error(partner.get("/merchant"), 401, "authentication_failed")


def test_a_suspended_merchants_key_is_401(partner):
    merchant_status_set(merchant=partner.merchant, status="suspended", actor=None, reason="fraud review")

    assert_error(partner.get("/merchant"), 401, "authentication_failed")


def test_a_key_without_the_scope_reads_but_does_not_write(read_only_partner):
    assert read_only_partner.get("/perks").status_code == 200

    error = assert_error(read_only_partner.post("/perks", PERK), 403, "permission_denied")

    assert error["type"] == "permission"
    assert "perks:write" in error["message"]


def test_a_scope_for_one_write_does_not_open_another(partner):
    from tests.surfaces.api.conftest import partner_of

    webhooks_only = partner_of(partner.merchant, scopes=["webhooks:write"])

    assert_error(webhooks_only.post("/perks", PERK), 403, "permission_denied")
    assert (
        webhooks_only.post(
            "/webhook-endpoints", {"url": "https://pos.example.com/hooks", "events": ["voucher.redeemed"]}
        ).status_code
        == 201
    )


def test_a_missing_scope_is_refused_before_the_body_is_read(read_only_partner):
    response = read_only_partner.post("/perks", raw=b"{not json")

    assert_error(response, 403, "permission_denied")


def test_every_api_view_is_a_partner_view_with_its_write_scope_declared():
    """A view outside PartnerView would skip auth, throttling and idempotency: none may exist."""
    views = [view for _, view in api_routes()]

    assert views
    for view in views:
        assert issubclass(view, PartnerView), view
        if hasattr(view, "post"):
            assert getattr(view.post, "idempotent", False), view
        if any(hasattr(view, m) for m in WRITE_METHODS):
            assert view.write_scope is not UNDECLARED, view


def test_a_write_view_that_does_not_declare_its_scope_is_refused_at_import():
    with pytest.raises(TypeError, match="write_scope"):

        class Careless(PartnerView):
            def post(self, request):
                raise AssertionError("never called")
