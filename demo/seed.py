"""A realistic demo, built through the same services the product uses.

`seed_demo` composes the seeders of each part of the product and returns the manifest that
partner-api.md describes: who can sign in where, and with which key. Passwords and keys
are made fresh on each run.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from demo.members import seed_members

OPERATOR_EMAIL = "operator@perkline.demo"


@dataclass
class Manifest:
    base_url_hint: str
    operator: dict[str, str] = field(default_factory=dict)
    merchants: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url_hint": self.base_url_hint,
            "merchants": self.merchants,
            "members": self.members,
            "operator": self.operator,
        }


def demo_password() -> str:
    return secrets.token_urlsafe(12)


def database_is_empty() -> bool:
    return not get_user_model().objects.exists()


def _seed_operator(manifest: Manifest) -> None:
    password = demo_password()
    get_user_model().objects.create_superuser(
        username=OPERATOR_EMAIL, email=OPERATOR_EMAIL, password=password
    )
    manifest.operator = {"email": OPERATOR_EMAIL, "password": password}


def _seed_members(manifest: Manifest) -> None:
    manifest.members.extend(seed_members(password=demo_password))


@transaction.atomic
def seed(*, base_url_hint: str) -> Manifest:
    manifest = Manifest(base_url_hint=base_url_hint)
    _seed_operator(manifest)
    _seed_members(manifest)
    return manifest
