from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.core.errors import Invalid
from perks.catalog.errors import PerkTransitionNotAllowed
from perks.catalog.models import Perk, PerkStatus
from perks.catalog.rules import PERK_TRANSITIONS
from perks.catalog.services import perk_transition
from perks.merchants.models import AuditEntry
from tests.factories import PerkFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("draft", "active"),
    ("draft", "archived"),
    ("active", "paused"),
    ("active", "archived"),
    ("paused", "active"),
    ("paused", "archived"),
}


def test_the_table_is_draft_active_paused_archived_and_archived_is_final():
    table = {(current, to) for current, targets in PERK_TRANSITIONS.items() for to in targets}

    assert table == ALLOWED
    assert PERK_TRANSITIONS[PerkStatus.ARCHIVED] == frozenset()


@pytest.mark.parametrize("current", PerkStatus.values)
@pytest.mark.parametrize("to", PerkStatus.values)
def test_transition_checks_the_current_state(merchant, owner, current, to):
    perk = PerkFactory.create(merchant=merchant, status=current)

    if (current, to) in ALLOWED:
        perk_transition(perk=perk, actor=owner, to=to)
        assert Perk.objects.get(pk=perk.pk).status == to
        assert AuditEntry.objects.get(action="perk.status_changed").params == {"from": current, "to": to}
    else:
        with pytest.raises(PerkTransitionNotAllowed):
            perk_transition(perk=perk, actor=owner, to=to)
        assert Perk.objects.get(pk=perk.pk).status == current


def test_the_state_is_read_from_the_database_not_the_callers_copy(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, status=PerkStatus.ACTIVE)
    stale = Perk.objects.get(pk=perk.pk)
    perk_transition(perk=perk, actor=owner, to=PerkStatus.ARCHIVED)

    with pytest.raises(PerkTransitionNotAllowed, match="archived cannot become paused"):
        perk_transition(perk=stale, actor=owner, to=PerkStatus.PAUSED)


def test_a_perk_past_its_validity_cannot_be_activated(merchant, owner):
    start = timezone.now() - timedelta(days=30)
    perk = PerkFactory.create(
        merchant=merchant, status=PerkStatus.PAUSED, valid_from=start, valid_until=start + timedelta(days=1)
    )

    with pytest.raises(Invalid) as refused:
        perk_transition(perk=perk, actor=owner, to=PerkStatus.ACTIVE)
    assert refused.value.param == "valid_until"


def test_an_unknown_status_is_invalid(merchant, owner):
    with pytest.raises(Invalid):
        perk_transition(perk=PerkFactory.create(merchant=merchant), actor=owner, to="deleted")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_of_a_draft_move_it_once(merchant, owner):
    perk = PerkFactory.create(merchant=merchant, status=PerkStatus.DRAFT)

    outcomes = race(lambda _: perk_transition(perk=perk, actor=owner, to=PerkStatus.ACTIVE), threads=6)

    assert sum(o.ok for o in outcomes) == 1
    assert all(isinstance(o.error, PerkTransitionNotAllowed) for o in outcomes if not o.ok)
    assert AuditEntry.objects.filter(action="perk.status_changed").count() == 1
