import pytest

from loyalty.core.errors import Conflict, Invalid, NotFound
from perks.merchants.errors import RoleForbids
from perks.merchants.models import AuditEntry, Merchant, MerchantStatus
from perks.merchants.selectors import (
    location_by_ref,
    locations_of_merchant,
    merchant_by_ref,
    merchant_by_slug,
    staff_memberships,
)
from perks.merchants.services import (
    location_create,
    location_set_active,
    merchant_status_set,
    merchant_update,
)
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_a_location_gets_a_ref_and_an_upper_case_code(merchant, manager):
    location = location_create(merchant=merchant, actor=manager, name="Terminal 2", code=" pvg-t2 ")

    assert location.ref.startswith("loc_")
    assert location.code == "PVG-T2"
    assert AuditEntry.objects.get(action="location.created").target == location.ref


@pytest.mark.parametrize("code", ["", "T 2", "TERMINAL-TWO-WEST-WING", "-T2", "T2/3"])
def test_location_codes_are_short_and_plain(merchant, manager, code):
    with pytest.raises(Invalid) as refused:
        location_create(merchant=merchant, actor=manager, name="Somewhere", code=code)

    assert refused.value.param == "code"


def test_a_code_is_unique_per_merchant_only(merchant, manager):
    location_create(merchant=merchant, actor=manager, name="Front", code="FRONT")
    with pytest.raises(Invalid, match="already has the code FRONT"):
        location_create(merchant=merchant, actor=manager, name="Front again", code="front")

    other = MerchantFactory.create()
    location_create(
        merchant=other, actor=StaffFactory.create(merchant=other).user, name="Front", code="FRONT"
    )


def test_a_cashier_cannot_add_locations(merchant, cashier):
    with pytest.raises(RoleForbids):
        location_create(merchant=merchant, actor=cashier, name="Back", code="BACK")


def test_deactivated_locations_drop_out_of_the_list(merchant, manager):
    location = location_create(merchant=merchant, actor=manager, name="Old", code="OLD")

    location_set_active(location=location, actor=manager, active=False)

    assert not locations_of_merchant(merchant=merchant).exists()
    assert list(locations_of_merchant(merchant=merchant, active_only=False)) == [location]


def test_another_merchants_location_is_not_found(merchant, manager):
    location = location_create(merchant=merchant, actor=manager, name="Front", code="FRONT")

    assert location_by_ref(merchant=merchant, ref=location.ref) == location
    with pytest.raises(NotFound):
        location_by_ref(merchant=MerchantFactory.create(), ref=location.ref)


def test_merchant_lookups_by_ref_and_slug(merchant):
    assert merchant_by_ref(merchant.ref) == merchant
    assert merchant_by_slug(merchant.slug) == merchant
    with pytest.raises(NotFound):
        merchant_by_ref("mch_doesnotexist0000000")


def test_status_changes_are_checked_and_audited(merchant):
    merchant_status_set(
        merchant=merchant, status=MerchantStatus.PAUSED_BILLING, actor=None, reason="Invoice unpaid"
    )

    assert Merchant.objects.get(pk=merchant.pk).status == MerchantStatus.PAUSED_BILLING
    entry = AuditEntry.objects.get(action="merchant.status_changed")
    assert entry.params == {"from": "active", "to": "paused_billing", "reason": "Invoice unpaid"}
    with pytest.raises(Conflict):
        merchant_status_set(
            merchant=merchant, status=MerchantStatus.PAUSED_BILLING, actor=None, reason="Again"
        )
    with pytest.raises(Invalid):
        merchant_status_set(merchant=merchant, status="closed", actor=None, reason="Gone")


def test_a_manager_renames_the_merchant(merchant, manager):
    merchant_update(merchant=merchant, actor=manager, name="Blue Kettle Roasters")

    assert Merchant.objects.get(pk=merchant.pk).name == "Blue Kettle Roasters"


def test_a_person_sees_the_merchants_they_work_at(merchant, owner):
    other = MerchantFactory.create()
    StaffFactory.create(merchant=other, user=owner, role="cashier")

    assert {(s.merchant, s.role) for s in staff_memberships(user=owner)} == {
        (merchant, "owner"),
        (other, "cashier"),
    }
