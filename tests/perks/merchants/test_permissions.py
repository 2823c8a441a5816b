"""What each role and each key may do comes from one table, and is enforced through one function."""

import pytest

from perks.merchants.errors import MerchantSuspended, NotStaff, RoleForbids, ScopeMissing
from perks.merchants.models import MerchantStatus
from perks.merchants.permissions import ROLE_PERMISSIONS, SCOPE_FOR_PERMISSION, Permission, Role, Scope
from perks.merchants.services import actor_require, api_key_create, staff_require
from tests.factories import MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("permission", Permission.values)
def test_staff_require_follows_the_role_table(merchant, role, permission):
    user = StaffFactory.create(merchant=merchant, role=role).user

    if permission in ROLE_PERMISSIONS[role]:
        staff_require(user=user, merchant=merchant, permission=permission)
    else:
        with pytest.raises(RoleForbids):
            staff_require(user=user, merchant=merchant, permission=permission)


def test_the_roles_nest_cashier_within_manager_within_owner():
    assert ROLE_PERMISSIONS[Role.CASHIER] < ROLE_PERMISSIONS[Role.MANAGER] < ROLE_PERMISSIONS[Role.OWNER]
    assert ROLE_PERMISSIONS[Role.OWNER] == frozenset(Permission.values)
    assert Permission.STAFF_MANAGE not in ROLE_PERMISSIONS[Role.MANAGER]
    assert Permission.KEYS_MANAGE not in ROLE_PERMISSIONS[Role.MANAGER]


def test_staff_of_one_merchant_cannot_act_at_another(owner):
    other = MerchantFactory.create()

    with pytest.raises(NotStaff):
        staff_require(user=owner, merchant=other, permission=Permission.REDEMPTIONS_CREATE)


def test_an_inactive_user_is_refused_even_as_owner(merchant, owner):
    owner.is_active = False
    owner.save()

    with pytest.raises(NotStaff):
        staff_require(user=owner, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)


def test_the_operator_may_act_at_any_merchant(merchant):
    operator = UserFactory.create(is_superuser=True, is_staff=True)

    staff_require(user=operator, merchant=merchant, permission=Permission.STAFF_MANAGE)


def test_a_suspended_merchant_may_only_look_at_its_bill(merchant, owner):
    merchant.status = MerchantStatus.SUSPENDED
    merchant.save()

    staff_require(user=owner, merchant=merchant, permission=Permission.BILLING_VIEW)
    with pytest.raises(MerchantSuspended):
        staff_require(user=owner, merchant=merchant, permission=Permission.PERKS_MANAGE)


@pytest.mark.parametrize("permission", Permission.values)
def test_a_key_may_do_what_its_scopes_map_to_and_nothing_else(merchant, owner, permission):
    key = api_key_create(merchant=merchant, actor=owner, name="POS", scopes=Scope.values).key

    if permission in SCOPE_FOR_PERMISSION:
        actor_require(actor=key, merchant=merchant, permission=permission)
    else:
        with pytest.raises(ScopeMissing):
            actor_require(actor=key, merchant=merchant, permission=permission)


def test_a_key_without_the_scope_is_refused_naming_the_scope(merchant, owner):
    key = api_key_create(merchant=merchant, actor=owner, name="Reader", scopes=[Scope.EVENTS_WRITE]).key

    with pytest.raises(ScopeMissing, match="redemptions:write"):
        actor_require(actor=key, merchant=merchant, permission=Permission.REDEMPTIONS_CREATE)


def test_a_key_never_acts_at_another_merchant(merchant, owner):
    key = api_key_create(merchant=merchant, actor=owner, name="POS", scopes=Scope.values).key

    with pytest.raises(ScopeMissing):
        actor_require(actor=key, merchant=MerchantFactory.create(), permission=Permission.PERKS_MANAGE)
