"""The audit trail in the portal: a sentence for every kind the code writes, counter actions
in it, filters, pages and the CSV."""

import ast
import csv
import io
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from perks.catalog.models import PerkStatus
from perks.catalog.services import perk_transition
from perks.merchants.audit import AuditAction
from perks.merchants.models import AuditEntry
from perks.merchants.permissions import Role
from perks.merchants.services import api_key_create, audit_record, location_create
from perks.vouchers.codes import code_format
from perks.vouchers.models import RedemptionChannel
from perks.vouchers.services import redemption_reverse, voucher_issue, voucher_redeem
from surfaces.portal.audit import PREDICATES, audit_lines
from tests.factories import JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("perks", "loyalty", "surfaces", "config", "demo")
# Actions written from an expression rather than a literal (file, expression), and what the
# expression can be.
COMPUTED = {
    ("perks/billing/services/invoices.py", "f'billing.{notice}'"): {
        AuditAction.BILLING_PAUSED,
        AuditAction.BILLING_RESUMED,
    },
    ("perks/vouchers/services/redemption.py", "action"): {
        AuditAction.REDEMPTION_CREATED,
        AuditAction.REDEMPTION_REVERSED,
    },
}


def _actions_written() -> dict[str, str]:
    """Every action any `audit_record(...)` call in the code can write, with where."""
    found: dict[str, str] = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for call in ast.walk(tree):
                if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "audit_record"):
                    continue
                for keyword in call.keywords:
                    if keyword.arg == "action":
                        where = str(path.relative_to(ROOT))
                        for action in _values(keyword.value, where):
                            found[action] = f"{where}:{call.lineno}"
    return found


def _values(node: ast.expr, where: str) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _values(node.body, where) | _values(node.orelse, where)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "AuditAction"
    ):
        return {AuditAction[node.attr].value}
    source = ast.unparse(node)
    if (where, source) not in COMPUTED:
        raise AssertionError(
            f"Cannot tell which audit actions {source} in {where} writes: add it to COMPUTED."
        )
    return {str(action) for action in COMPUTED[where, source]}


def test_every_action_the_code_writes_is_a_kind_of_the_trail():
    written = _actions_written()

    assert len(written) >= 25  # the scan finds the services' calls
    unknown = {action: where for action, where in written.items() if action not in AuditAction.values}
    assert not unknown, f"Add these to perks.merchants.audit.AuditAction and give them a sentence: {unknown}"


def test_every_kind_has_its_sentence():
    assert set(PREDICATES) == set(AuditAction)


# An entry of each kind as its service writes it (target, params), to tell in a sentence.
EXAMPLES = {
    AuditAction.MERCHANT_CREATED: ("", {"owner": 1}),
    AuditAction.MERCHANT_UPDATED: ("", {"name": "Bean There"}),
    AuditAction.MERCHANT_STATUS_CHANGED: ("", {"from": "active", "to": "suspended", "reason": "x"}),
    AuditAction.MERCHANT_LOGO_SET: ("merchants/logos/a.webp", {}),
    AuditAction.LOCATION_CREATED: ("{location}", {}),
    AuditAction.LOCATION_ACTIVATED: ("{location}", {}),
    AuditAction.LOCATION_DEACTIVATED: ("{location}", {}),
    AuditAction.STAFF_ADDED: ("{person}", {"role": "cashier"}),
    AuditAction.STAFF_ROLE_CHANGED: ("{person}", {"from": "cashier", "to": "manager"}),
    AuditAction.STAFF_REMOVED: ("{person}", {"role": "cashier"}),
    AuditAction.STAFF_INVITED: ("cy@example.test", {"role": "cashier"}),
    AuditAction.STAFF_INVITATION_REVOKED: ("cy@example.test", {"role": "cashier"}),
    AuditAction.STAFF_JOINED: ("{person}", {"role": "cashier", "email": "bo@example.test"}),
    AuditAction.LOCATION_UPDATED: ("{location}", {"name": "Airport T2"}),
    AuditAction.HOLD_APPEAL_DECLINED: ("hld_x", {"reason": "still owed"}),
    AuditAction.KEY_CREATED: ("ABCDEFGH2345", {"scopes": []}),
    AuditAction.KEY_REVOKED: ("ABCDEFGH2345", {}),
    AuditAction.WEBHOOK_ENDPOINT_CREATED: ("whe_gone", {"url": "https://pos.example.com/h"}),
    AuditAction.WEBHOOK_ENDPOINT_UPDATED: ("whe_gone", {"is_active": False}),
    AuditAction.WEBHOOK_ENDPOINT_TESTED: ("whe_gone", {"url": "https://pos.example.com/h"}),
    AuditAction.WEBHOOK_DELIVERY_RETRIED: ("whd_gone", {}),
    AuditAction.PERK_CREATED: ("{perk}", {"status": "draft"}),
    AuditAction.PERK_UPDATED: ("{perk}", {"title": "Free coffee"}),
    AuditAction.PERK_STATUS_CHANGED: ("{perk}", {"from": "active", "to": "paused"}),
    AuditAction.PERK_IMAGE_SET: ("{perk}", {}),
    AuditAction.VOUCHER_ISSUED: ("{code}", {}),
    AuditAction.VOUCHER_REVOKED: ("{code}", {"reason": "lost"}),
    AuditAction.REDEMPTION_CREATED: ("red_x", {"perk": "{perk}", "code": "{code}", "location": "{location}"}),
    AuditAction.REDEMPTION_REVERSED: ("red_x", {"perk": "{perk}", "code": "{code}", "location": ""}),
    AuditAction.CAMPAIGN_CREATED: ("cmp_x", {"perk": "{perk}", "min_tier": "gold", "min_score": None}),
    AuditAction.HOLD_PLACED: ("hld_x", {"member": "mem_x", "expires_at": "2026-03-03T09:00:00+00:00"}),
    AuditAction.HOLD_LIFTED: ("hld_x", {}),
    AuditAction.BILLING_PROFILE_CREATED: ("Standard", {}),
    AuditAction.BILLING_ACCOUNT_SET: ("acct_1", {}),
    AuditAction.BILLING_CARD_SAVED: ("pm_1", {}),
    AuditAction.BILLING_PAUSED: ("inv_x", {}),
    AuditAction.BILLING_RESUMED: ("", {}),
}


def _filled(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {key: _filled(item, names) for key, item in value.items()}
    return value


@pytest.fixture
def scene():
    """A merchant with a named owner, a perk, a location, a voucher and a cashier."""
    owner = StaffFactory.create(role=Role.OWNER, user__first_name="Ann", user__last_name="Lee")
    merchant = owner.merchant
    perk = PerkFactory.create(merchant=merchant, title="Free coffee")
    location = LocationFactory.create(merchant=merchant, name="Airport T2")
    voucher = voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user)
    cashier = StaffFactory.create(merchant=merchant, role=Role.CASHIER, user__email="bo@example.test")
    names = {"perk": perk.ref, "location": location.ref, "code": voucher.code, "person": str(cashier.user.pk)}
    return owner, names, voucher


@pytest.mark.parametrize("kind", list(AuditAction), ids=str)
def test_each_kind_reads_as_a_sentence_with_no_codes_or_ids(scene, kind):
    owner, names, voucher = scene
    target, params = EXAMPLES[kind]
    entry = audit_record(
        merchant=owner.merchant,
        actor=owner.user,
        action=kind,
        target=_filled(target, names),
        params=_filled(params, names),
    )

    [line] = audit_lines([entry])

    assert line.sentence.startswith("Ann Lee ")
    said = line.sentence.removeprefix("Ann Lee ")
    assert len(said) > 8
    assert kind.value not in said
    plain = said.replace("2026", "").replace(code_format(voucher.code), "")
    assert not re.search(r"\b(None|user:|prk_|loc_|\d{3,})\b", plain)
    assert voucher.code not in said  # a code is shown as a cashier reads it
    assert line.kind == kind.label


def test_sentences_name_what_they_are_about(scene):
    owner, names, voucher = scene
    merchant, user = owner.merchant, owner.user

    def said(kind, target="", **params):
        entry = audit_record(merchant=merchant, actor=user, action=kind, target=target, params=params)
        return audit_lines([entry])[0].sentence

    assert said(AuditAction.REDEMPTION_REVERSED, "red_x", perk=names["perk"], location=names["location"]) == (
        "Ann Lee reversed a redemption of Free coffee at Airport T2"
    )
    assert (
        said(AuditAction.KEY_CREATED, "ABCDEFGH2345") == "Ann Lee created the API key pk_live_ABCDEFGH2345…"
    )
    assert said(AuditAction.VOUCHER_ISSUED, voucher.code) == (
        f"Ann Lee issued a voucher for Free coffee ({code_format(voucher.code)})"
    )
    assert said(AuditAction.STAFF_ROLE_CHANGED, names["person"], to="manager") == (
        "Ann Lee made bo@example.test Manager"
    )
    assert said(AuditAction.PERK_STATUS_CHANGED, names["perk"], **{"from": "paused", "to": "active"}) == (
        "Ann Lee resumed the perk Free coffee"
    )


def test_keys_and_the_platform_are_named_as_such(scene):
    owner, _names, _voucher = scene
    key = api_key_create(merchant=owner.merchant, actor=owner.user, name="Till", scopes=["perks:write"]).key
    perk_transition(perk=owner.merchant.perks.get(), actor=key, to=PerkStatus.PAUSED)
    platform = audit_record(merchant=owner.merchant, actor=None, action=AuditAction.BILLING_RESUMED)

    lines = audit_lines(
        AuditEntry.objects.filter(merchant=owner.merchant, action__in=["perk.status_changed"])
    )

    assert lines[0].sentence == f"API key pk_live_{key.prefix}… paused the perk Free coffee"
    assert audit_lines([platform])[0].sentence.startswith("Perkline resumed new vouchers")


def test_redemptions_and_reversals_at_the_counter_are_in_the_trail(client, scene):
    owner, _names, voucher = scene
    client.force_login(owner.user)
    slug = owner.merchant.slug
    location = owner.merchant.locations.get()

    client.post(
        reverse("portal:counter", args=[slug]),
        {
            "code": code_format(voucher.code),
            "location": location.code,
            # A fresh id: the counter keeps each for a while in the shared cache (Redis).
            "submission": uuid.uuid4().hex,
            "redeem": "1",
        },
    )
    redemption = voucher.redemptions.get()
    client.post(reverse("portal:redemption-reversal", args=[slug, redemption.ref]), {"reason": "wrong till"})
    page = client.get(reverse("portal:audit", args=[slug])).content.decode()

    assert redemption.channel == RedemptionChannel.PORTAL
    assert "Ann Lee redeemed Free coffee at Airport T2" in page
    assert "Ann Lee reversed a redemption of Free coffee at Airport T2" in page


def test_a_tills_key_redemptions_stay_out_of_the_trail_and_its_reversals_do_not(scene):
    owner, _names, voucher = scene
    key = api_key_create(
        merchant=owner.merchant, actor=owner.user, name="Till", scopes=["redemptions:write"]
    ).key

    redemption = voucher_redeem(merchant=owner.merchant, actor=key, code=voucher.code)
    redemption_reverse(redemption=redemption, actor=key)

    kinds = set(AuditEntry.objects.filter(merchant=owner.merchant).values_list("action", flat=True))
    assert AuditAction.REDEMPTION_REVERSED in kinds
    assert AuditAction.REDEMPTION_CREATED not in kinds


def _trail(client, owner, **query):
    response = client.get(reverse("portal:audit", args=[owner.merchant.slug]), query)
    assert response.status_code == 200
    return [line.sentence for line in response.context["lines"]], response


def test_the_trail_filters_by_actor_kind_and_days(client, scene):
    owner, _names, _voucher = scene
    client.force_login(owner.user)
    merchant = owner.merchant
    manager = StaffFactory.create(merchant=merchant, role=Role.MANAGER, user__first_name="Cy")
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        api_key_create(merchant=merchant, actor=owner.user, name="Old till", scopes=[])
    location_create(merchant=merchant, actor=manager.user, name="Pier 4", code="P4")
    today = timezone.localdate()

    by_manager, _ = _trail(client, owner, actor=f"user:{manager.user_id}")
    keys, _ = _trail(client, owner, kind="key.created")
    recent, _ = _trail(client, owner, since=str(today - timedelta(days=2)), until=str(today))
    old, _ = _trail(client, owner, until=str(today - timedelta(days=5)))
    _bad, response = _trail(client, owner, since=str(today), until=str(today - timedelta(days=1)))

    assert by_manager == ["Cy added the location Pier 4"]
    assert [line.split(" the API key")[0] for line in keys] == ["Ann Lee created"]
    assert not any("API key" in line for line in recent)
    assert any("Ann Lee issued a voucher" in line for line in recent)
    assert len(old) == 1
    assert "Choose a day on or after the first day." in response.content.decode()


def test_pages_of_the_trail_keep_the_filter(client, scene):
    owner, _names, _voucher = scene
    client.force_login(owner.user)
    for n in range(30):
        audit_record(
            merchant=owner.merchant, actor=owner.user, action=AuditAction.MERCHANT_LOGO_SET, target=f"{n}"
        )

    first, response = _trail(client, owner, kind="merchant.logo_set")
    second, _ = _trail(client, owner, kind="merchant.logo_set", page=2)

    assert len(first) == 25
    assert len(second) == 5
    assert 'href="?kind=merchant.logo_set&amp;page=2"' in response.content.decode()


def test_the_trail_downloads_as_csv_with_the_filter_and_no_formulas(client, scene):
    owner, _names, _voucher = scene
    client.force_login(owner.user)
    audit_record(
        merchant=owner.merchant,
        actor=owner.user,
        action=AuditAction.MERCHANT_UPDATED,
        params={"name": "=cmd()"},
    )

    response = client.get(
        reverse("portal:audit-csv", args=[owner.merchant.slug]), {"kind": "merchant.updated"}
    )

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["When", "Who", "What happened", "Kind"]
    assert [row[1:] for row in rows[1:]] == [
        ["Ann Lee", "Ann Lee renamed the merchant =cmd()", "Merchant profile changed"]
    ]


def test_a_cell_that_starts_a_formula_is_defused(client, scene):
    owner, _names, _voucher = scene
    client.force_login(owner.user)
    owner.user.first_name = "=HYPERLINK(1)"
    owner.user.save()
    audit_record(merchant=owner.merchant, actor=owner.user, action=AuditAction.MERCHANT_LOGO_SET)

    response = client.get(
        reverse("portal:audit-csv", args=[owner.merchant.slug]), {"kind": "merchant.logo_set"}
    )

    [_header, row] = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row[1] == "'=HYPERLINK(1) Lee"
    assert row[2].startswith("'=HYPERLINK(1) Lee changed")


def test_another_merchants_trail_stays_its_own(client, scene):
    owner, _names, _voucher = scene
    other = StaffFactory.create(role=Role.OWNER)
    api_key_create(merchant=other.merchant, actor=other.user, name="Theirs", scopes=[])
    client.force_login(owner.user)

    sentences, _ = _trail(client, owner)
    body = b"".join(client.get(reverse("portal:audit-csv", args=[owner.merchant.slug])).streaming_content)

    assert sentences
    assert not any("API key" in sentence for sentence in sentences)
    assert b"API key" not in body
