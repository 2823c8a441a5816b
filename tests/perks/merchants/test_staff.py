import pytest

from loyalty.core.errors import Invalid
from perks.merchants.errors import LastOwner, NotStaff, RoleForbids
from perks.merchants.models import AuditEntry, Staff
from perks.merchants.permissions import Role
from perks.merchants.services import merchant_create, staff_add, staff_remove, staff_role_change
from tests.factories import UserFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db


def test_merchant_create_makes_its_first_owner():
    owner = UserFactory.create()

    merchant = merchant_create(name="Blue Kettle Coffee", category="coffee", owner=owner)

    assert merchant.ref.startswith("mch_")
    assert merchant.slug == "blue-kettle-coffee"
    assert Staff.objects.get(merchant=merchant).role == Role.OWNER


def test_merchant_create_refuses_a_taken_slug_and_an_unknown_category():
    merchant_create(name="Blue Kettle", category="coffee", owner=UserFactory.create())

    with pytest.raises(Invalid, match="taken") as taken:
        merchant_create(name="Blue Kettle", category="coffee", owner=UserFactory.create())
    assert taken.value.param == "slug"
    with pytest.raises(Invalid, match="Unknown category"):
        merchant_create(name="Somewhere", category="casino", owner=UserFactory.create())


def test_an_owner_adds_a_cashier_and_it_is_audited(merchant, owner):
    cashier = UserFactory.create()

    staff_add(merchant=merchant, user=cashier, role=Role.CASHIER, actor=owner)

    assert Staff.objects.get(merchant=merchant, user=cashier).role == Role.CASHIER
    entry = AuditEntry.objects.get(merchant=merchant, action="staff.added")
    assert entry.actor_user == owner
    assert entry.params == {"role": "cashier"}


def test_a_manager_cannot_manage_staff(merchant, manager):
    with pytest.raises(RoleForbids):
        staff_add(merchant=merchant, user=UserFactory.create(), role=Role.CASHIER, actor=manager)


def test_the_last_owner_can_be_neither_removed_nor_demoted(merchant, owner):
    with pytest.raises(LastOwner):
        staff_remove(merchant=merchant, user=owner, actor=owner)
    with pytest.raises(LastOwner):
        staff_role_change(merchant=merchant, user=owner, role=Role.MANAGER, actor=owner)


def test_with_a_second_owner_one_may_step_down(merchant, owner):
    second = UserFactory.create()
    staff_add(merchant=merchant, user=second, role=Role.OWNER, actor=owner)

    staff_role_change(merchant=merchant, user=owner, role=Role.MANAGER, actor=second)

    assert Staff.objects.get(merchant=merchant, user=owner).role == Role.MANAGER


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_removing_each_other_at_once_leave_one(merchant, owner):
    second = UserFactory.create()
    staff_add(merchant=merchant, user=second, role=Role.OWNER, actor=owner)
    pairs = [(owner, second), (second, owner)]

    outcomes = race(lambda i: staff_remove(merchant=merchant, user=pairs[i][1], actor=pairs[i][0]), threads=2)

    assert sum(o.ok for o in outcomes) == 1
    # The loser either waited for the lock and found one owner left, or was no longer staff.
    assert all(isinstance(o.error, LastOwner | NotStaff) for o in outcomes if not o.ok)
    assert Staff.objects.filter(merchant=merchant, role=Role.OWNER).count() == 1
