"""Least privilege in the portal, generated from the permissions table: every page of a
merchant declares the permission it needs, and each role gets the page where its role
grants that permission and the portal's 403 where not; the navigation offers exactly the
sections the role opens. A new page fails here until it has its row below; a changed role
changes the expectations by itself."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, resolve, reverse

from perks.merchants.models import MerchantStatus, Staff, WebhookDelivery
from perks.merchants.permissions import ROLE_PERMISSIONS, Role
from perks.merchants.services import api_key_create, staff_invite, webhook_emit, webhook_endpoint_create
from perks.vouchers.campaigns.services import campaign_create
from perks.vouchers.codes import code_format
from perks.vouchers.services import voucher_issue, voucher_redeem
from surfaces.portal.access import permission_of
from tests.factories import (
    HoldFactory,
    JoinedMemberFactory,
    LocationFactory,
    MerchantFactory,
    PerkFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

ROLES_TABLE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"

Objects = Callable[[Staff], list[str | int]]


def _perk(owner: Staff) -> list[str | int]:
    return [PerkFactory.create(merchant=owner.merchant).ref]


def _key(owner: Staff) -> list[str | int]:
    return [api_key_create(merchant=owner.merchant, actor=owner.user, name="Till", scopes=[]).key.prefix]


def _delivery(owner: Staff) -> list[str | int]:
    created = webhook_endpoint_create(
        merchant=owner.merchant,
        actor=owner.user,
        url="http://127.0.0.1:9/hooks",
        event_types=["voucher.issued"],
    )
    event = webhook_emit(merchant=owner.merchant, type="voucher.issued", data={"uses": 1})
    # Its own endpoint's: the merchant may have others (test_accessibility.py makes them all).
    return [WebhookDelivery.objects.get(event=event, endpoint=created.endpoint).ref]


def _endpoint(owner: Staff) -> list[str | int]:
    created = webhook_endpoint_create(
        merchant=owner.merchant,
        actor=owner.user,
        url="http://127.0.0.1:9/hooks",
        event_types=["voucher.issued"],
    )
    return [created.endpoint.ref]


def _redemption(owner: Staff) -> list[str | int]:
    perk = PerkFactory.create(merchant=owner.merchant)
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user)
    return [voucher_redeem(merchant=owner.merchant, actor=owner.user, code=voucher.code).ref]


def _campaign(owner: Staff) -> list[str | int]:
    perk = PerkFactory.create(merchant=owner.merchant)
    return [campaign_create(merchant=owner.merchant, actor=owner.user, perk=perk, min_score=600).ref]


def _hold(owner: Staff) -> list[str | int]:
    merchant = owner.merchant
    return [HoldFactory.create(merchant_ref=merchant.ref, merchant_name=merchant.name).ref]


def _staff(owner: Staff) -> list[str | int]:
    return [StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER).pk]


def _invitation(owner: Staff) -> list[str | int]:
    invited = staff_invite(
        merchant=owner.merchant, actor=owner.user, email="new@example.test", role=Role.CASHIER
    )
    return [invited.invitation.pk]


def _location(owner: Staff) -> list[str | int]:
    return [LocationFactory.create(merchant=owner.merchant).ref]


@dataclass(frozen=True)
class Page:
    """A merchant page as a test reaches it: what it answers a role that may use it, and
    the objects its URL names after the merchant, made at the merchant by its owner."""

    name: str
    method: str = "get"
    answer: int = 200
    objects: Objects = field(default=lambda owner: [])


# The navigation's sections; every other page is reached from one of them.
SECTIONS = {
    "portal:counter",
    "portal:dashboard",
    "portal:perks",
    "portal:keys",
    "portal:webhooks",
    "portal:campaigns",
    "portal:holds",
    "portal:locations",
    "portal:staff",
    "portal:audit",
    "portal:exports",
    "portal:billing",
}

PAGES = (
    Page("portal:dashboard"),
    Page("portal:perks"),
    Page("portal:perk-create"),
    Page("portal:perk", objects=_perk),
    Page("portal:perk-edit", objects=_perk),
    Page("portal:perk-status", "post", 302, _perk),
    Page("portal:keys"),
    Page("portal:key-revoke", "post", 302, _key),
    Page("portal:webhooks"),
    Page("portal:webhook-endpoint", objects=_endpoint),
    Page("portal:webhook-endpoint-active", "post", 302, _endpoint),
    Page("portal:webhook-endpoint-test", "post", 302, _endpoint),
    Page("portal:delivery", objects=_delivery),
    Page("portal:delivery-retry", "post", 302, _delivery),
    Page("portal:audit"),
    Page("portal:audit-csv"),
    Page("portal:exports"),
    # Past the guard, the form's own answer: the days to export are missing.
    Page("portal:export-redemptions", answer=400),
    Page("portal:export-vouchers", answer=400),
    Page("portal:counter"),
    Page("portal:redemption-reversal", objects=_redemption),  # the confirmation
    Page("portal:redemption-reversal", "post", 302, _redemption),
    Page("portal:campaigns"),
    Page("portal:campaign", objects=_campaign),
    Page("portal:campaign-progress", objects=_campaign),
    Page("portal:campaign-codes", objects=_campaign),
    Page("portal:holds"),
    Page("portal:hold", objects=_hold),
    Page("portal:hold-lift", "post", 302, _hold),
    Page("portal:hold-appeal", "post", 302, _hold),
    Page("portal:staff"),
    Page("portal:staff-role", "post", 302, _staff),
    Page("portal:staff-remove", "post", 302, _staff),
    Page("portal:invitation-revoke", "post", 302, _invitation),
    Page("portal:locations"),
    Page("portal:location", objects=_location),
    Page("portal:location-active", "post", 302, _location),
    Page("portal:billing"),
    # Past the guard, the service's own answers: no billing profile yet, and nothing to save.
    Page("portal:billing-card-setup", "post", 422),
    Page("portal:billing-card-save", "post", 400),
)


def _merchant_pages() -> list[URLPattern]:
    _prefix, portal = get_resolver().namespace_dict["portal"]
    return [p for p in portal.url_patterns if isinstance(p, URLPattern) and "<slug:slug>" in str(p.pattern)]


def _role_opens(role: str, url: str) -> bool:
    permission = permission_of(resolve(url).func)
    return permission is None or permission in ROLE_PERMISSIONS[role]


def _signed_in(
    client: Client, role: str, merchant_status: str = MerchantStatus.ACTIVE
) -> tuple[Staff, Staff]:
    """The merchant's owner, and the person of `role` signed in there (the owner, for an owner)."""
    owner = StaffFactory.create(role=Role.OWNER, merchant=MerchantFactory.create(status=merchant_status))
    person = owner if role == Role.OWNER else StaffFactory.create(merchant=owner.merchant, role=role)
    client.force_login(person.user)
    return owner, person


def _url(page: Page, owner: Staff) -> str:
    return reverse(page.name, args=[owner.merchant.slug, *page.objects(owner)])


def test_every_merchant_page_declares_its_permission_and_has_a_row_here():
    routed = {f"portal:{pattern.name}": pattern.callback for pattern in _merchant_pages()}

    for view in routed.values():
        permission_of(view)  # raises for a page that is not a portal_page
    assert set(routed) == {page.name for page in PAGES}


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_each_role_opens_exactly_the_pages_its_permissions_allow(client, role, page):
    owner, _person = _signed_in(client, role)
    url = _url(page, owner)

    response = getattr(client, page.method)(url)

    assert response.status_code == (page.answer if _role_opens(role, url) else 403)


@pytest.mark.parametrize("role", Role.values)
def test_the_navigation_offers_exactly_the_sections_the_role_opens(client, role):
    owner, _person = _signed_in(client, role)
    slug = owner.merchant.slug

    page = client.get(reverse("portal:counter", args=[slug])).content.decode()

    nav = re.search(r'<nav class="tabs".*?</nav>', page, re.S)
    assert nav is not None
    offered = set(re.findall(r'href="([^"]+)"', nav.group()))
    sections = {reverse(name, args=[slug]) for name in SECTIONS}
    assert offered == {url for url in sections if _role_opens(role, url)}


@pytest.mark.parametrize("name", ["portal:campaign-codes", "portal:keys", "portal:webhooks", "portal:audit"])
def test_a_cashier_may_not_download_live_codes_nor_read_keys_webhooks_or_the_audit_trail(client, name):
    owner, _cashier = _signed_in(client, Role.CASHIER)
    page = next(page for page in PAGES if page.name == name)

    response = client.get(_url(page, owner))

    assert response.status_code == 403
    assert "portal/forbidden.html" in [template.name for template in response.templates]
    body = response.content.decode()
    assert "Your role here, Cashier, does not open this page." in body
    assert 'class="tabs"' in body  # the portal around it, to go on from


def test_a_manager_downloads_a_campaigns_codes_that_a_cashier_may_not(client):
    owner, _manager = _signed_in(client, Role.MANAGER)
    [ref] = _campaign(owner)
    url = reverse("portal:campaign-codes", args=[owner.merchant.slug, ref])
    page = reverse("portal:campaign", args=[owner.merchant.slug, ref])

    assert client.get(url).status_code == 200
    assert url in client.get(page).content.decode()

    client.force_login(StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER).user)
    assert client.get(url).status_code == 403
    assert url not in client.get(page).content.decode()


def test_at_a_suspended_merchant_billing_still_opens_and_keys_do_not(client):
    owner, _owner = _signed_in(client, Role.OWNER, MerchantStatus.SUSPENDED)
    slug = owner.merchant.slug

    keys = client.get(reverse("portal:keys", args=[slug]))

    assert keys.status_code == 403
    assert "This merchant is suspended" in keys.content.decode()
    assert client.get(reverse("portal:billing", args=[slug])).status_code == 200


def test_exports_and_pages_showing_live_codes_are_never_stored(client):
    owner, _owner = _signed_in(client, Role.OWNER)
    slug = owner.merchant.slug
    voucher = voucher_issue(
        perk=PerkFactory.create(merchant=owner.merchant),
        member=JoinedMemberFactory.create(),
        actor=owner.user,
    )
    audit = client.get(reverse("portal:audit", args=[slug]))
    codes = client.get(_url(Page("portal:campaign-codes", objects=_campaign), owner))
    counter = client.post(reverse("portal:counter", args=[slug]), {"code": voucher.code, "check": "1"})

    assert code_format(voucher.code) in audit.content.decode()
    for response in (audit, codes, counter):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


def test_the_roles_table_in_the_docs_says_what_the_pages_declare():
    rows = re.findall(
        r"^\| [^|]+ \| `([a-z.]+)` \| (\w+) \| (\w+) \| (\w+) \|$", ROLES_TABLE.read_text(), re.M
    )
    documented = {permission: dict(zip(Role.values, opens, strict=True)) for permission, *opens in rows}

    declared = {permission_of(pattern.callback) for pattern in _merchant_pages()} - {None}
    assert set(documented) == declared
    for permission, opens in documented.items():
        for role, says in opens.items():
            assert says == ("yes" if permission in ROLE_PERMISSIONS[role] else "no"), (permission, role)
