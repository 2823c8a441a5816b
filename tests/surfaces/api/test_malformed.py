"""No request, however malformed, gets a 5xx or HTML: each is a 4xx envelope saying what is wrong."""

import json

import pytest
from django.conf import settings
from django.test import Client
from django.urls import include, path
from rest_framework import serializers, status
from rest_framework.response import Response

from perks.catalog.models import Perk
from surfaces.api.serializers import BATCH_MAX, InputSerializer, batch_field
from surfaces.api.views.base import PartnerView, parsed
from tests.surfaces.api.conftest import BASE, assert_error

pytestmark = pytest.mark.django_db

VALID = {"type": "free_item", "title": "A free coffee", "params": {"item": "Flat white"}}


class _Event(InputSerializer):
    id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=["purchase", "payment_on_time"])


class _Batch(InputSerializer):
    events = batch_field(_Event())


class BatchView(PartnerView):
    """A batch endpoint as later ones are built: the cap and per-item params come from here."""

    write_scope = None

    def post(self, request):
        return Response({"accepted": len(parsed(_Batch, request)["events"])}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [path("api/v1/batch", BatchView.as_view()), path("api/v1/", include("surfaces.api.urls"))]


def _with(**changes):
    return json.dumps({**VALID, **changes}).encode()


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        (b"{not json", "malformed_json", None),
        (b'{"type": "free_item",}', "malformed_json", None),
        (b"\xff\xfe{}", "malformed_json", None),
        (b'{"title": "caf\xe9"}', "malformed_json", None),
        (b"\xef\xbb\xbf{}", "malformed_json", None),
        (b'{"points_cost": NaN}', "malformed_json", None),
        (b'{"points_cost": Infinity}', "malformed_json", None),
        (b"[" * 100_000, "malformed_json", None),
        (b'{"params": ' * 40 + b"{}" + b"}" * 40, "malformed_json", None),
        (b'{"points_cost": 1' + b"0" * 5000 + b"}", "malformed_json", None),
        (b"", "validation_error", "type"),
        (b"{}", "validation_error", "type"),
        (b"null", "validation_error", None),
        (b"[1, 2]", "validation_error", None),
        (b'"a string"', "validation_error", None),
        (b"42", "validation_error", None),
        (_with(points_cost=10**30), "validation_error", "points_cost"),
        (_with(points_cost="1e3"), "validation_error", "points_cost"),
        (_with(points_cost=-1), "validation_error", "points_cost"),
        (_with(points_cost=[1]), "validation_error", "points_cost"),
        (
            b'{"type": "free_item", "title": "x", "params": {}, "points_cost": 1e999}',
            "validation_error",
            "points_cost",
        ),
        (_with(title="a\u0000b"), "validation_error", "title"),
        (_with(params={"item": "\u0000"}), "validation_error", "params.item"),
        (_with(params={"\u0000": 1}), "validation_error", "params.\u0000"),
        (b'{"title": "\\ud800"}', "validation_error", "title"),
        (_with(title={"en": "coffee"}), "validation_error", "title"),
        (_with(title="x" * 121), "validation_error", "title"),
        (_with(params=[1, 2]), "validation_error", "params"),
        (_with(params="item"), "validation_error", "params"),
        (_with(params={"item": "x", "colour": "red"}), "validation_error", "params.colour"),
        (_with(type="lottery"), "validation_error", "type"),
        (_with(min_teir="gold"), "validation_error", "min_teir"),
        (_with(min_tier="mythril"), "validation_error", "min_tier"),
        (_with(min_tier="gold", min_score=700), "validation_error", "min_score"),
        (_with(valid_from="2026-01-01T00:00:00"), "validation_error", "valid_from"),
        (_with(valid_from="yesterday"), "validation_error", "valid_from"),
        (_with(valid_from="2026-01-01T12:99:00Z"), "validation_error", "valid_from"),
        (_with(title=12345), "validation_error", "title"),
        (_with(valid_from="9999-12-31T23:59:59-12:00"), "validation_error", "valid_from"),
        (
            _with(valid_from="2026-05-02T00:00:00Z", valid_until="2026-05-01T00:00:00Z"),
            "validation_error",
            "valid_until",
        ),
        (_with(status="archived"), "validation_error", "status"),
        (_with(auto_issue="perhaps"), "validation_error", "auto_issue"),
    ],
)
def test_malformed_bodies_are_4xx_envelopes_naming_what_is_wrong(partner, raw, code, param):
    response = partner.post("/perks", raw=raw)

    error = assert_error(response, 400, code)
    assert error["param"] == param
    assert error["type"] == "invalid_request"
    assert not Perk.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_a_body_that_is_not_json_is_refused(partner, content_type):
    response = partner.http.post(
        f"{BASE}/perks",
        json.dumps(VALID),
        content_type=content_type,
        headers={"Authorization": f"Bearer {partner.key}"},
    )

    assert_error(response, 400, "malformed_json")


def test_a_charset_other_than_utf8_is_not_honoured(partner):
    response = partner.http.post(
        f"{BASE}/perks",
        json.dumps(VALID),  # the client encodes it in the declared charset
        content_type="application/json; charset=utf-16",
        headers={"Authorization": f"Bearer {partner.key}"},
    )

    assert_error(response, 400, "malformed_json")


def test_a_body_over_the_limit_is_413_before_anything_reads_it(partner):
    """The declared length alone decides: the payload behind it is never read (it would raise)."""
    response = partner.http.generic(
        "POST",
        f"{BASE}/perks",
        b"{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {partner.key}"},
        CONTENT_LENGTH=str(settings.API_MAX_BODY_BYTES + 1),
    )

    error = assert_error(response, 413, "request_too_large")
    assert error["type"] == "invalid_request"


@pytest.mark.parametrize("size", [settings.API_MAX_BODY_BYTES + 1, 3 * settings.API_MAX_BODY_BYTES])
def test_a_real_body_over_the_limit_is_413_not_djangos_400(partner, size):
    body = b'{"title": "' + b"x" * size + b'"}'

    assert_error(partner.post("/perks", raw=body), 413, "request_too_large")


def test_a_body_just_under_the_limit_is_read(partner):
    padding = settings.API_MAX_BODY_BYTES - len(_with(description=""))
    body = _with(description="x" * padding)
    assert len(body) == settings.API_MAX_BODY_BYTES

    assert_error(partner.post("/perks", raw=body), 400, "validation_error", param="description")


def test_the_limit_also_holds_without_a_key(db):
    response = Client().generic(
        "POST", f"{BASE}/perks", b"{}", content_type="application/json", CONTENT_LENGTH="999999999"
    )

    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/merchant"),
        ("POST", "/merchant"),
        ("PUT", "/perks"),
        ("PATCH", "/perks"),
        ("OPTIONS", "/perks"),
    ],
)
def test_a_method_the_path_does_not_take_is_405(partner, method, path):
    response = partner.call(method, path)

    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/no-such-thing",
        "/merchant/",
        "/perks/",
        "/perks/prk_notarealref",
        "/perks/%00",
        "/perks/prk_" + "0" * 20 + "/x",
    ],
)
def test_unknown_paths_are_json_404s_never_redirects(partner, path):
    response = partner.get(path)

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "\u0661\u0660"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"starting_after": "nope"}, "starting_after"),
        ({"starting_after": "prk_\u0000"}, "starting_after"),
        ({"starting_after": "prk_" + "0" * 20}, "starting_after"),
        ({"limt": "5"}, "limt"),
        ({"limit": "5", "status": "active"}, "status"),
    ],
)
def test_bad_list_parameters_are_validation_errors(partner, query, param):
    assert_error(partner.get("/perks", **query), 400, "validation_error", param=param)


@pytest.mark.parametrize("path", ["/merchant", "/perks"])
def test_unknown_query_parameters_are_refused_as_unknown_fields_are(partner, path):
    assert_error(partner.get(path, expand="everything"), 400, "validation_error", param="expand")


class TestBatches:
    @pytest.fixture(autouse=True)
    def _urls(self, settings):
        settings.ROOT_URLCONF = __name__

    def _events(self, count):
        return [{"id": f"e{i}", "type": "purchase"} for i in range(count)]

    def test_a_full_batch_is_taken(self, partner):
        response = partner.post("/batch", {"events": self._events(BATCH_MAX)})

        assert response.status_code == 202
        assert response.json() == {"accepted": BATCH_MAX}

    @pytest.mark.parametrize("count", [0, BATCH_MAX + 1])
    def test_an_empty_or_oversized_batch_is_refused(self, partner, count):
        assert_error(
            partner.post("/batch", {"events": self._events(count)}), 400, "validation_error", param="events"
        )

    def test_an_invalid_item_is_named_by_its_position(self, partner):
        events = self._events(5)
        events[3]["type"] = "lottery"

        error = assert_error(partner.post("/batch", {"events": events}), 400, "validation_error")

        assert error["param"] == "events[3].type"

    def test_an_unknown_field_in_an_item_is_named(self, partner):
        events = self._events(2)
        events[1]["colour"] = "red"

        assert_error(
            partner.post("/batch", {"events": events}), 400, "validation_error", param="events[1].colour"
        )

    def test_an_object_where_a_list_belongs_is_refused(self, partner):
        assert_error(
            partner.post("/batch", {"events": {"id": "e1"}}), 400, "validation_error", param="events"
        )
