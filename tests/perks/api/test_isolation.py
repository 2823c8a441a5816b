"""Invariant 5: a merchant's key never reads or changes another merchant's objects.

One row per object endpoint: another merchant's object must be a 404 `not_found`, exactly
as one that does not exist, never a 403 that would reveal it. Add a row with each new
endpoint that names an object in its path: the last test fails until you do.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from perks.merchants.models import Merchant
from tests.factories import PerkFactory
from tests.perks.api.conftest import BASE, api_routes, assert_error


@dataclass(frozen=True)
class ObjectEndpoint:
    method: str
    path: str  # as in urls.py, with {id} where the object's id goes
    make: Callable[[Merchant], str]  # makes an object of the merchant, returns its id
    body: dict[str, Any] | None = None

    def call(self, partner, object_id: str):
        path = self.path.format(id=object_id)
        if self.method == "GET":
            return partner.get(path)
        return partner.post(path, self.body or {})


OBJECT_ENDPOINTS = [
    ObjectEndpoint("GET", "/perks/{id}", lambda merchant: PerkFactory.create(merchant=merchant).ref),
]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_another_merchants_object_is_not_found(endpoint, partner, other_partner):
    theirs = endpoint.make(other_partner.merchant)

    assert_error(endpoint.call(partner, theirs), 404, "not_found")
    assert endpoint.call(other_partner, theirs).status_code < 400  # the object is real and reachable


def test_every_object_endpoint_has_a_row():
    object_paths = {
        re.sub(r"\{\w+\}", "{id}", path.removeprefix(BASE)) for path, _ in api_routes() if "{" in path
    }

    assert object_paths - {endpoint.path for endpoint in OBJECT_ENDPOINTS} == set()
