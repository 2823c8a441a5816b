"""A realistic demo, built through the same services the product uses.

`seed_demo` composes the seeders of each part of the product and returns the manifest the
partner API's demo section describes (docs/integration.md): who can sign in where, and
with which key. Passwords and keys are made fresh on each run.
"""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from demo.billing import seed_billing
from demo.campaigns import seed_campaign
from demo.members import seed_members
from demo.points import seed_points
from demo.vouchers import seed_vouchers
from perks.catalog.services import perk_create
from perks.merchants.models import Merchant
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create, location_create, merchant_create, staff_add

OPERATOR_EMAIL = "operator@perkline.demo"
# The demo's perks have been on offer this long, so vouchers can have been issued (and
# expired) in the past.
PERKS_RUNNING_FOR = timedelta(days=365)


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


# One merchant of each kind the product was built for, with the perk real programmes give.
DEMO_MERCHANTS: list[dict[str, Any]] = [
    {
        "name": "Jade Road Car Rental",
        "category": "car_rental",
        "location": ("Pudong Airport T2 desk", "PVG-T2", "Pudong International Airport, Terminal 2"),
        "perk": {
            "type": "deposit_waiver",
            "title": "Rent without a deposit (up to 5,000 CNY)",
            "title_zh": "免押金租车（押金最高 5,000 元）",
            "description": "Show your member pass at the desk: we waive the deposit, up to 5,000 CNY.",
            "description_zh": "在柜台出示会员码，即可免交租车押金，最高 5,000 元。",
            "params": {"max_amount": "5000.00", "currency": "CNY"},
            "min_score": 650,
            "hold_free_days": 180,
            "per_member_limit": 2,
            "limit_period": "month",
        },
    },
    {
        "name": "Harbour Exchange",
        "category": "fx",
        "location": ("Nanjing Road bureau", "NJR-1", "Nanjing Road East, Shanghai"),
        "perk": {
            "type": "fx_margin",
            "title": "Member exchange rates",
            "title_zh": "会员专享汇率",
            "description": "A 0.5 % smaller margin for you on dollars, euros, pounds, HK dollars and yen.",
            "description_zh": "兑换美元、欧元、英镑、港币和日元时，汇差比门市低 0.5 个百分点。",
            "params": {"margin_reduction_bps": 50, "currencies": ["USD", "EUR", "GBP", "HKD", "JPY"]},
            "min_score": 600,
        },
    },
    {
        "name": "Skyline Lounges",
        "category": "lounge",
        "location": ("PVG T2 international lounge", "PVG-T2-L", "Pudong International Airport, Terminal 2"),
        "perk": {
            "type": "access_pass",
            "title": "Airport lounge pass, 4 visits",
            "title_zh": "机场贵宾室通行证（4 次）",
            "description": "Four visits to our international lounge at Pudong T2, for you alone.",
            "description_zh": "浦东机场 T2 国际贵宾室，限本人使用 4 次。",
            "params": {"venue": "PVG T2 international lounge", "kind": "lounge", "entries_per_voucher": 4},
            "min_tier": "diamond",
            "voucher_ttl_days": 180,
        },
    },
    {
        "name": "Eastline Rail",
        "category": "rail",
        "location": ("Central station", "CEN", "Central Station concourse"),
        "perk": {
            "type": "access_pass",
            "title": "First-class waiting room",
            "title_zh": "贵宾候车室",
            "description": "Wait for your train in the quiet of our first-class room at Central Station.",
            "description_zh": "在中央车站的贵宾候车室安静候车。",
            "params": {"venue": "Central Station", "kind": "waiting_room", "entries_per_voucher": 1},
            "min_tier": "platinum",
            "per_member_limit": 4,
            "limit_period": "month",
        },
    },
    {
        "name": "Riverside Hospital",
        "category": "hospital",
        "location": ("Outpatient building", "OPD", "1 Riverside Road"),
        "perk": {
            "type": "access_pass",
            "title": "Fast-track registration",
            "title_zh": "快速挂号",
            "description": "Skip the registration queue at outpatients: go to the fast-track window.",
            "description_zh": "门诊挂号免排队，请到快速通道窗口办理。",
            "params": {
                "venue": "Riverside Hospital outpatients",
                "kind": "fast_track",
                "entries_per_voucher": 1,
            },
            "min_tier": "diamond",
            "auto_issue": True,
        },
    },
    {
        "name": "Blue Kettle Coffee",
        "category": "coffee",
        "location": ("Xintiandi", "XTD", "Xintiandi, Huangpu"),
        "perk": {
            "type": "free_item",
            "title": "A free coffee for 120 points",
            "title_zh": "120 积分换一杯咖啡",
            "description": "Any handcrafted coffee, any size, once a day.",
            "description_zh": "任选一杯现做咖啡，不限杯型，每天一杯。",
            "params": {"item": "Any handcrafted coffee"},
            "points_cost": 120,
            "per_member_limit": 1,
            "limit_period": "day",
            "voucher_ttl_days": 14,
        },
    },
    {
        "name": "Lantern Hotels",
        "category": "hotel",
        "location": ("The Bund", "BUND", "The Bund, Huangpu"),
        "perk": {
            "type": "deposit_waiver",
            "title": "Deposit-free stay (up to 2,000 CNY)",
            "title_zh": "免押金入住（押金最高 2,000 元）",
            "description": "Check in without a deposit, up to 2,000 CNY a stay.",
            "description_zh": "入住无需交押金，每次最高 2,000 元。",
            "params": {"max_amount": "2000.00", "currency": "CNY"},
            "min_tier": "gold",
        },
    },
]


def _seed_merchants(manifest: Manifest) -> None:
    for spec in DEMO_MERCHANTS:
        manifest.merchants.append(_seed_merchant(spec))


def _seed_merchant(spec: dict[str, Any]) -> dict[str, Any]:
    operator = get_user_model().objects.get(username=OPERATOR_EMAIL)
    logins = {role: (f"{role}@{slugify(spec['name'])}.demo", demo_password()) for role in Role.values}
    users = {
        role: get_user_model().objects.create_user(username=email, email=email, password=password)
        for role, (email, password) in logins.items()
    }
    owner = users[Role.OWNER]
    merchant = merchant_create(name=spec["name"], category=spec["category"], owner=owner, actor=operator)
    for role in (Role.MANAGER, Role.CASHIER):
        staff_add(merchant=merchant, user=users[role], role=role, actor=owner)
    name, code, address = spec["location"]
    location_create(merchant=merchant, actor=owner, name=name, code=code, address=address)
    key = api_key_create(merchant=merchant, actor=owner, name="Demo point of sale", scopes=Scope.values)
    perk_create(
        merchant=merchant,
        actor=users[Role.MANAGER],
        status="active",
        valid_from=timezone.now() - PERKS_RUNNING_FOR,
        **spec["perk"],
    )
    return {
        "slug": merchant.slug,
        "name": merchant.name,
        "category": merchant.category,
        "api_key": key.plaintext,
        "staff": [
            {"email": email, "password": password, "role": role} for role, (email, password) in logins.items()
        ],
    }


def _demo_partners() -> dict[str, tuple[str, str]]:
    """The seeded merchants by category, as the member side names them: (ref, name)."""
    return {m.category: (m.ref, m.name) for m in Merchant.objects.order_by("pk")}


@transaction.atomic
def seed(*, base_url_hint: str) -> Manifest:
    manifest = Manifest(base_url_hint=base_url_hint)
    _seed_operator(manifest)
    _seed_merchants(manifest)
    seed_billing()
    partners = _demo_partners()
    manifest.members.extend(seed_members(password=demo_password, partners=partners))
    seed_points(partners=partners)
    seed_vouchers()
    seed_campaign()
    return manifest
