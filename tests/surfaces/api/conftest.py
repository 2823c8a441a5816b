import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from perks.merchants.models import Merchant
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create
from perks.vouchers.models import Voucher
from tests.factories import MerchantFactory, StaffFactory
from tests.support.logs import as_written

BASE = "/api/v1"


@dataclass
class Partner:
    """A merchant's point of sale: calls the API with its key, as a partner would."""

    merchant: Merchant
    key: str
    http: Client

    def get(self, path: str, **params: Any):
        return self.http.get(f"{BASE}{path}", params, headers=self._headers())

    def post(
        self, path: str, body: Any = None, *, idempotency_key: str | None = None, raw: bytes | None = None
    ):
        headers = self._headers()
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.http.post(f"{BASE}{path}", data, content_type="application/json", headers=headers)

    def call(self, method: str, path: str, **kwargs: Any):
        return self.http.generic(method, f"{BASE}{path}", headers=self._headers(), **kwargs)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def partner_of(merchant: Merchant, scopes: list[str] | None = None) -> Partner:
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    created = api_key_create(
        merchant=merchant, actor=owner, name="POS", scopes=Scope.values if scopes is None else scopes
    )
    return Partner(merchant=merchant, key=created.plaintext, http=Client(raise_request_exception=False))


@pytest.fixture
def partner(db) -> Partner:
    """A merchant with a key holding every scope."""
    return partner_of(MerchantFactory.create())


@pytest.fixture
def other_partner(db) -> Partner:
    """Another merchant, whose objects the first must never see."""
    return partner_of(MerchantFactory.create())


@pytest.fixture
def read_only_partner(partner) -> Partner:
    """A key of the same merchant without any scope: it may read, not write."""
    return partner_of(partner.merchant, scopes=[])


def api_routes() -> list[tuple[str, type]]:
    """Every route of /api/v1/: its path as the schema writes it (`/api/v1/perks/{perk_id}`)
    and its view class."""
    from surfaces.api.urls import urlpatterns

    routes = []
    for route in urlpatterns:
        view: type = route.callback.view_class  # type: ignore[attr-defined]
        routes.append((f"{BASE}/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(route.pattern)), view))
    return routes


def assert_error(response, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


# --- No secret in any log line ---------------------------------------------------------

# API keys and webhook signing secrets, by their form (perks/merchants/services/).
_SECRET = re.compile(r"pk_live_\w{12}_\w{32}|whsec_[\w-]{20,}")
# The test's own tooling, which logs what it builds (factory_boy: every voucher's code).
_TOOLING = ("factory",)


@pytest.fixture(autouse=True)
def no_secret_in_the_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails an API test if a line logged while it ran, as production would write it (JSON,
    at any level), holds an API key, a webhook secret, or the code of a voucher in the
    database, in any spelling a partner may send it."""
    caplog.set_level(logging.DEBUG)
    if _uses_database(request):
        # Asked for here, so the vouchers are still there when this fixture looks at them.
        request.getfixturevalue("transactional_db" if _committed(request) else "db")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    lines = [as_written(record) for record in records if not record.name.startswith(_TOOLING)]
    codes = set(Voucher.objects.values_list("code", flat=True)) if _uses_database(request) else set()
    leaks = [line for line in lines if _SECRET.search(line) or _holds_a_code(line, codes)]
    assert leaks == [], "secrets in log lines"


def _holds_a_code(line: str, codes: set[str]) -> bool:
    """Codes are read whatever their case and hyphens, so look for them the same way."""
    folded = line.upper().replace("-", "")
    return any(code in folded for code in codes)


def _uses_database(request: pytest.FixtureRequest) -> bool:
    return bool(
        request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    )


def _committed(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return "transactional_db" in request.fixturenames or bool(marker and marker.kwargs.get("transaction"))
