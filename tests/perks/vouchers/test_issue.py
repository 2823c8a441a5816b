"""voucher_issue: a merchant's gift (or the platform's on a tier reached), never paid in points."""

import pytest

from loyalty.core.errors import Invalid
from loyalty.members.models import LookupPurpose, MemberLookup, Notification
from loyalty.points.selectors import points_balance
from perks.catalog.errors import InventoryExhausted, LimitReached, MemberNotEligible
from perks.catalog.models import Perk
from perks.merchants.errors import RoleForbids, ScopeMissing
from perks.merchants.models import AuditEntry, WebhookEvent
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherSource
from perks.vouchers.services import voucher_issue
from tests.factories import MerchantFactory, PerkFactory
from tests.perks.vouchers.conftest import grant
from tests.support.links import linked, unlinked

pytestmark = pytest.mark.django_db

# Refs, codes and counts: never more of the member than their ref.
EVENT_FIELDS = {
    "code",
    "perk",
    "member",
    "status",
    "source",
    "uses_allowed",
    "uses_remaining",
    "issued_at",
    "expires_at",
}


def test_an_issue_spends_no_points_and_tells_the_partner_and_the_member(perk, member, key):
    Perk.objects.filter(pk=perk.pk).update(points_cost=120)
    perk.refresh_from_db()
    grant(member, 500)
    linked(member, perk.merchant)  # as POST /vouchers requires

    voucher = voucher_issue(perk=perk, member=member, actor=key)

    assert voucher.source == VoucherSource.MERCHANT
    assert voucher.points_spent == 0
    assert points_balance(member=member) == 500
    event = WebhookEvent.objects.get(type="voucher.issued")
    assert event.data["member"] == member.ref
    assert event.data["perk"] == perk.ref
    assert set(event.data) <= EVENT_FIELDS
    assert Notification.objects.filter(member=member, kind="voucher_issued").count() == 1
    assert MemberLookup.objects.filter(member=member, purpose=LookupPurpose.VOUCHER).count() == 1
    assert AuditEntry.objects.filter(action="voucher.issued", target=voucher.code).exists()


def test_staff_issuing_in_the_portal_leave_no_partner_look_up(perk, member, owner):
    voucher_issue(perk=perk, member=member, actor=owner)

    assert not MemberLookup.objects.exists()


def test_a_cashier_may_not_issue(perk, member, cashier):
    with pytest.raises(RoleForbids):
        voucher_issue(perk=perk, member=member, actor=cashier)
    assert not Voucher.objects.exists()


def test_a_key_without_the_scope_may_not_issue(perk, member, merchant, owner):
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=[Scope.REDEMPTIONS_WRITE]).key

    with pytest.raises(ScopeMissing):
        voucher_issue(perk=perk, member=member, actor=key)


def test_a_key_may_not_issue_another_merchants_perk(member, key):
    other_perk = PerkFactory.create(merchant=MerchantFactory.create())

    with pytest.raises(ScopeMissing):
        voucher_issue(perk=other_perk, member=member, actor=key)


def test_auto_issue_needs_no_actor(perk, member):
    voucher = voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO)

    assert voucher.source == VoucherSource.AUTO
    assert not AuditEntry.objects.filter(action="voucher.issued").exists()


def test_a_tier_reached_does_not_name_an_unlinked_member_to_the_merchant(perk, member):
    """The member learns of the voucher; the merchant learns a voucher went out, not to whom."""
    linked(member, MerchantFactory.create())  # a link with another merchant tells this one nothing

    voucher = voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO)

    event = WebhookEvent.objects.get(type="voucher.issued")
    assert event.data["member"] is None
    assert event.data["code"] == code_format(voucher.code)
    assert Notification.objects.filter(member=member, kind="voucher_issued").count() == 1


def test_a_member_who_ended_the_link_is_not_named_either(perk, member):
    unlinked(member, perk.merchant)

    voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO)

    assert WebhookEvent.objects.get(type="voucher.issued").data["member"] is None


def test_only_auto_issue_may_go_without_an_actor(perk, member):
    with pytest.raises(Invalid) as refused:
        voucher_issue(perk=perk, member=member, actor=None)
    assert refused.value.param == "actor"


@pytest.mark.parametrize("source", [VoucherSource.CLAIM, VoucherSource.CAMPAIGN, "gift"])
def test_issue_has_its_own_sources_only(perk, member, owner, source):
    with pytest.raises(Invalid) as refused:
        voucher_issue(perk=perk, member=member, actor=owner, source=source)
    assert refused.value.param == "source"


def test_issue_keeps_the_claims_rules(perk, member, owner):
    Perk.objects.filter(pk=perk.pk).update(per_member_limit=1, inventory=5)
    perk.refresh_from_db()
    voucher_issue(perk=perk, member=member, actor=owner)

    with pytest.raises(LimitReached):
        voucher_issue(perk=perk, member=member, actor=owner)
    Perk.objects.filter(pk=perk.pk).update(per_member_limit=None, inventory=1)
    perk.refresh_from_db()
    with pytest.raises(InventoryExhausted):
        voucher_issue(perk=perk, member=member, actor=owner)
    Perk.objects.filter(pk=perk.pk).update(inventory=None, min_score=900)
    perk.refresh_from_db()
    with pytest.raises(MemberNotEligible):
        voucher_issue(perk=perk, member=member, actor=owner)
    assert Voucher.objects.count() == 1
    assert WebhookEvent.objects.filter(type="voucher.issued").count() == 1
