import io
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from loyalty.core.errors import Invalid
from loyalty.scoring.models import Tier
from perks.catalog.errors import PerkArchived
from perks.catalog.models import Perk, PerkStatus
from perks.catalog.services import perk_create, perk_image_set, perk_transition, perk_update
from perks.merchants.errors import MerchantSuspended, RoleForbids, ScopeMissing
from perks.merchants.models import AuditEntry, MerchantStatus
from perks.merchants.permissions import Role, Scope
from perks.merchants.services import api_key_create
from tests.factories import PerkFactory, StaffFactory

pytestmark = pytest.mark.django_db

DEPOSIT = {"max_amount": "5000.00", "currency": "CNY"}


def create(merchant, actor, **overrides):
    fields = {"type": "deposit_waiver", "title": "No deposit", "params": DEPOSIT, **overrides}
    return perk_create(merchant=merchant, actor=actor, **fields)


def test_the_car_rental_perk_of_the_issue(merchant, owner):
    perk = create(
        merchant,
        owner,
        title="Deposit waived up to 5,000 CNY",
        min_score=650,
        hold_free_days=180,
        status=PerkStatus.ACTIVE,
    )

    perk.refresh_from_db()
    assert perk.ref.startswith("prk_")
    assert (perk.min_score, perk.min_tier, perk.hold_free_days) == (650, None, 180)
    assert perk.params == {"max_amount": "5000.00", "currency": "CNY"}
    assert (perk.uses_per_voucher, perk.voucher_ttl_days, perk.issued_count) == (1, 30, 0)
    assert perk.status == PerkStatus.ACTIVE
    assert AuditEntry.objects.get(action="perk.created").target == perk.ref


def test_an_access_pass_has_as_many_uses_as_entries(merchant, owner):
    params = {"venue": "PVG T2", "kind": "lounge", "entries_per_voucher": 4}

    perk = create(merchant, owner, type="access_pass", params=params, min_tier="diamond")

    assert perk.uses_per_voucher == 4
    assert perk.min_tier == Tier.objects.get(slug="diamond")
    with pytest.raises(Invalid) as disagreeing:
        create(merchant, owner, type="access_pass", params=params, uses_per_voucher=2)
    assert disagreeing.value.param == "uses_per_voucher"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"min_tier": "gold", "min_score": 600}, "min_score"),
        ({"min_tier": "mythril"}, "min_tier"),
        ({"min_score": 300}, "min_score"),
        ({"auto_issue": True}, "auto_issue"),
        ({"points_cost": -1}, "points_cost"),
        ({"points_cost": 1.5}, "points_cost"),
        ({"inventory": -1}, "inventory"),
        ({"per_member_limit": 0}, "per_member_limit"),
        ({"limit_period": "fortnight"}, "limit_period"),
        ({"voucher_ttl_days": 0}, "voucher_ttl_days"),
        ({"title": "  "}, "title"),
        ({"valid_until": timezone.now() - timedelta(days=1)}, "valid_until"),
        ({"valid_from": timezone.now().replace(tzinfo=None)}, "valid_from"),
        ({"status": "paused"}, "status"),
        ({"params": {"max_amount": "5000"}}, "params.currency"),
        ({"hold_free_days": 0}, "hold_free_days"),
    ],
)
def test_invalid_fields_are_refused_by_name(merchant, owner, overrides, param):
    with pytest.raises(Invalid) as refused:
        create(merchant, owner, **overrides)

    assert refused.value.param == param
    assert not Perk.objects.exists()


def test_a_cashier_may_not_create_perks_nor_a_key_without_perks_write(merchant, owner):
    cashier = StaffFactory.create(merchant=merchant, role=Role.CASHIER).user
    with pytest.raises(RoleForbids):
        create(merchant, cashier)

    pos_key = api_key_create(merchant=merchant, actor=owner, name="POS", scopes=[Scope.REDEMPTIONS_WRITE]).key
    with pytest.raises(ScopeMissing):
        create(merchant, pos_key)

    catalog_key = api_key_create(merchant=merchant, actor=owner, name="CMS", scopes=[Scope.PERKS_WRITE]).key
    perk = create(merchant, catalog_key)
    assert AuditEntry.objects.get(action="perk.created", target=perk.ref).actor_key == catalog_key


def test_a_suspended_merchant_cannot_change_its_perks(merchant, owner):
    perk = create(merchant, owner)
    merchant.status = MerchantStatus.SUSPENDED
    merchant.save()

    with pytest.raises(MerchantSuspended):
        perk_update(perk=perk, actor=owner, changes={"title": "Back soon"})


def test_update_writes_the_changes_and_audits_them(merchant, owner):
    perk = create(merchant, owner)

    perk_update(perk=perk, actor=owner, changes={"min_tier": "platinum", "points_cost": 10})

    perk.refresh_from_db()
    assert (perk.min_tier.slug, perk.points_cost) == ("platinum", 10)
    entry = AuditEntry.objects.get(action="perk.updated")
    assert entry.params == {"min_tier": "platinum", "points_cost": 10}


def test_update_checks_the_whole_perk_after_the_change(merchant, owner):
    perk = create(merchant, owner, min_score=650)

    with pytest.raises(Invalid) as both:
        perk_update(perk=perk, actor=owner, changes={"min_tier": "gold"})
    assert both.value.param == "min_score"
    perk_update(perk=perk, actor=owner, changes={"min_tier": "gold", "min_score": None})


def test_update_refuses_type_status_and_unknown_fields(merchant, owner):
    perk = create(merchant, owner)

    for field in ("type", "status", "issued_count", "merchant"):
        with pytest.raises(Invalid) as refused:
            perk_update(perk=perk, actor=owner, changes={field: "x"})
        assert refused.value.param == field


def test_inventory_cannot_go_below_what_was_issued(merchant, owner):
    perk = create(merchant, owner, inventory=10)
    Perk.objects.filter(pk=perk.pk).update(issued_count=7)

    with pytest.raises(Invalid, match="7 vouchers already issued"):
        perk_update(perk=perk, actor=owner, changes={"inventory": 6})
    perk_update(perk=perk, actor=owner, changes={"inventory": 7})


def test_an_archived_perk_never_changes_again(merchant, owner):
    perk = create(merchant, owner)
    perk_transition(perk=perk, actor=owner, to=PerkStatus.ARCHIVED)

    with pytest.raises(PerkArchived):
        perk_update(perk=perk, actor=owner, changes={"title": "Revived"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issued_count", 11),
        ("issued_count", -1),
        ("points_cost", -5),
        ("uses_per_voucher", 0),
        ("min_score", 1000),
    ],
)
def test_the_database_refuses_what_the_services_would(field, value):
    perk = PerkFactory.create(inventory=10)

    with pytest.raises(IntegrityError), transaction.atomic():
        Perk.objects.filter(pk=perk.pk).update(**{field: value})


def test_the_database_refuses_both_a_tier_and_a_score():
    perk = PerkFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        Perk.objects.filter(pk=perk.pk).update(min_tier=Tier.objects.first(), min_score=600)


def test_a_perk_image_is_cleaned_and_stored(media, merchant, owner):
    perk = create(merchant, owner)
    upload = io.BytesIO()
    Image.new("RGB", (640, 320), "teal").save(upload, format="WEBP")
    upload.seek(0)

    perk_image_set(perk=perk, actor=owner, upload=upload)

    perk.refresh_from_db()
    assert perk.image.name.startswith(f"perks/{perk.ref}/")
    assert perk.image.name.endswith(".webp")
