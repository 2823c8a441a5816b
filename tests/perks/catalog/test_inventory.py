"""Invariant 6, the catalog's half: issued never exceeds inventory, however many take at once."""

import pytest

from perks.catalog.errors import InventoryExhausted
from perks.catalog.models import Perk
from perks.catalog.services import perk_inventory_take, perk_inventory_take_up_to, perk_update
from tests.factories import PerkFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db


def test_take_counts_until_the_inventory_is_gone():
    perk = PerkFactory.create(inventory=3)

    perk_inventory_take(perk_id=perk.pk)
    perk_inventory_take(perk_id=perk.pk, count=2)
    with pytest.raises(InventoryExhausted):
        perk_inventory_take(perk_id=perk.pk)

    assert Perk.objects.get(pk=perk.pk).issued_count == 3


def test_take_is_all_or_nothing():
    perk = PerkFactory.create(inventory=3)

    with pytest.raises(InventoryExhausted):
        perk_inventory_take(perk_id=perk.pk, count=4)

    assert Perk.objects.get(pk=perk.pk).issued_count == 0


def test_unlimited_inventory_only_counts():
    perk = PerkFactory.create(inventory=None)

    perk_inventory_take(perk_id=perk.pk, count=1000)

    assert Perk.objects.get(pk=perk.pk).issued_count == 1000


def test_take_up_to_takes_what_is_left():
    perk = PerkFactory.create(inventory=5)

    assert perk_inventory_take_up_to(perk_id=perk.pk, count=3) == 3
    assert perk_inventory_take_up_to(perk_id=perk.pk, count=3) == 2
    assert perk_inventory_take_up_to(perk_id=perk.pk, count=3) == 0
    assert Perk.objects.get(pk=perk.pk).issued_count == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_takers_of_an_inventory_of_five_get_exactly_five():
    perk = PerkFactory.create(inventory=5)

    outcomes = race(lambda _: perk_inventory_take(perk_id=perk.pk), threads=30)

    assert sum(o.ok for o in outcomes) == 5
    assert all(isinstance(o.error, InventoryExhausted) for o in outcomes if not o.ok)
    assert Perk.objects.get(pk=perk.pk).issued_count == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_chunks_share_out_the_inventory_exactly():
    perk = PerkFactory.create(inventory=100)

    outcomes = race(lambda _: perk_inventory_take_up_to(perk_id=perk.pk, count=15), threads=10)

    assert all(o.ok for o in outcomes)
    assert sum(o.value for o in outcomes) == 100
    assert Perk.objects.get(pk=perk.pk).issued_count == 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_editing_a_perk_while_vouchers_are_issued_loses_no_count(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, inventory=None)

    def act(index):
        if index % 2:
            return perk_inventory_take(perk_id=perk.pk)
        return perk_update(perk=perk, actor=owner, changes={"title": f"Edit {index}"})

    outcomes = race(act, threads=20)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert Perk.objects.get(pk=perk.pk).issued_count == 10
