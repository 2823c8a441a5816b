"""POST /benefits: what this merchant's perks give a member now, values computed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.members.models import MemberLookup
from loyalty.members.services import member_pass_issue
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import PerkStatus, PerkType
from perks.vouchers.codes import code_format, code_generate
from perks.vouchers.models import Voucher, VoucherSource, VoucherStatus
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory
from tests.support.links import linked
from tests.surfaces.api.conftest import assert_error

pytestmark = pytest.mark.django_db

WAIVER = {"type": PerkType.DEPOSIT_WAIVER, "params": {"max_amount": "5000.00", "currency": "CNY"}}
DISCOUNT = {"type": PerkType.DISCOUNT, "params": {"percent": "10", "currency": "EUR"}}
FX = {"type": PerkType.FX_MARGIN, "params": {"margin_reduction_bps": 50, "currencies": ["USD", "EUR"]}}
LOUNGE = {"type": PerkType.ACCESS_PASS, "params": {"venue": "T2", "kind": "lounge", "entries_per_voucher": 4}}


def _at(member, slug: str, score: int):
    MemberStanding.objects.filter(member=member).update(score=score, tier=Tier.objects.get(slug=slug))
    return member


@pytest.fixture
def member(partner):
    """A platinum member who is a regular of the partner's (linked with it)."""
    member = _at(JoinedMemberFactory.create(), "platinum", 660)
    linked(member, partner.merchant)
    return member


def _voucher(perk, member, *, uses_allowed=1, uses_count=0, expires_in=timedelta(days=30), **fields):
    now = timezone.now()
    return Voucher.objects.create(
        code=code_generate(),
        perk=perk,
        merchant=perk.merchant,
        member=member,
        source=VoucherSource.MERCHANT,
        uses_allowed=uses_allowed,
        uses_count=uses_count,
        issued_at=now - timedelta(days=1),
        valid_from=now - timedelta(days=1),
        expires_at=now + expires_in,
        **fields,
    )


def _by_perk(response):
    assert response.status_code == 200, response.content
    return {item["perk"]: item for item in response.json()["benefits"]}


def test_the_member_and_the_perks_they_qualify_for_with_values_for_the_amount(partner, member):
    waiver = PerkFactory.create(merchant=partner.merchant, min_score=650, **WAIVER)
    PerkFactory.create(merchant=partner.merchant, min_tier=Tier.objects.get(slug="diamond"))
    PerkFactory.create(merchant=partner.merchant, status=PerkStatus.PAUSED)
    PerkFactory.create(min_score=350)  # another merchant's

    response = partner.post("/benefits", {"member": member.ref, "amount": "3000.00", "currency": "CNY"})

    assert response.json()["member"] == {"ref": member.ref, "tier": "platinum"}
    assert _by_perk(response) == {
        waiver.ref: {
            "perk": waiver.ref,
            "type": "deposit_waiver",
            "title": waiver.title,
            "applies": True,
            "voucher": None,
            "benefit": {
                "type": "deposit_waiver",
                "currency": "CNY",
                "waived_amount": "3000.00",
                "max_amount": "5000.00",
            },
        }
    }


def test_each_type_has_its_value(partner, member):
    discount = PerkFactory.create(merchant=partner.merchant, **DISCOUNT)
    fx = PerkFactory.create(merchant=partner.merchant, **FX)
    lounge = PerkFactory.create(merchant=partner.merchant, **LOUNGE)
    waiver = PerkFactory.create(merchant=partner.merchant, **WAIVER)

    found = _by_perk(partner.post("/benefits", {"member": member.ref, "amount": "80.00", "currency": "EUR"}))

    assert found[discount.ref]["benefit"]["discount_amount"] == "8.00"
    assert found[fx.ref]["benefit"]["margin_reduction_bps"] == 50
    assert found[lounge.ref]["benefit"]["entries_remaining"] == 4
    assert found[waiver.ref]["applies"] is False


def test_a_perk_in_another_currency_is_listed_without_its_value(partner, member):
    """Perkline does not convert: the waiver in CNY says nothing about a deposit in EUR,
    and the call still answers for the other perks."""
    waiver = PerkFactory.create(merchant=partner.merchant, **WAIVER)
    fx = PerkFactory.create(merchant=partner.merchant, **FX)

    found = _by_perk(partner.post("/benefits", {"member": member.ref, "amount": "300.00", "currency": "GBP"}))

    assert found[waiver.ref]["applies"] is False
    assert found[waiver.ref]["benefit"]["waived_amount"] is None
    assert found[waiver.ref]["benefit"]["max_amount"] == "5000.00"
    assert found[fx.ref]["applies"] is False
    assert found[fx.ref]["benefit"]["margin_reduction_bps"] is None


def test_without_an_amount_the_perks_own_values(partner, member):
    waiver = PerkFactory.create(merchant=partner.merchant, **WAIVER)

    found = _by_perk(partner.post("/benefits", {"member": member.ref}))

    assert found[waiver.ref]["benefit"]["waived_amount"] == "5000.00"
    assert found[waiver.ref]["applies"] is True


def test_an_access_pass_counts_the_entries_left_on_the_best_voucher(partner, member):
    lounge = PerkFactory.create(merchant=partner.merchant, **LOUNGE)
    _voucher(lounge, member, uses_allowed=4, uses_count=3)
    best = _voucher(lounge, member, uses_allowed=4, uses_count=1)
    _voucher(lounge, member, uses_allowed=4, uses_count=0, status=VoucherStatus.REVOKED)
    _voucher(lounge, member, uses_allowed=4, uses_count=0, expires_in=timedelta(seconds=-1))

    found = _by_perk(partner.post("/benefits", {"member": member.ref}))

    assert found[lounge.ref]["voucher"] == code_format(best.code)
    assert found[lounge.ref]["benefit"]["entries_remaining"] == 3


def test_a_hold_of_the_merchant_suspends_its_perk(partner, member):
    waiver = PerkFactory.create(merchant=partner.merchant, **WAIVER)
    coffee = PerkFactory.create(merchant=partner.merchant)
    HoldFactory.create(member=member, merchant_ref=partner.merchant.ref)

    found = _by_perk(partner.post("/benefits", {"member": member.ref}))

    assert waiver.ref not in found
    assert coffee.ref in found


def test_a_member_named_by_pass_and_the_look_up_recorded(partner, member):
    response = partner.post("/benefits", {"member_pass": member_pass_issue(member=member)})

    assert response.json()["member"]["ref"] == member.ref
    lookup = MemberLookup.objects.get(member=member)
    assert (lookup.merchant_ref, lookup.purpose) == (partner.merchant.ref, "benefits")


def test_any_key_may_ask(read_only_partner, member):
    assert read_only_partner.post("/benefits", {"member": member.ref}).status_code == 200


def test_an_unknown_member_is_not_found(partner):
    assert_error(partner.post("/benefits", {"member": "mem_" + "0" * 20}), 404, "not_found", param="member")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"amount": "10.00"}, "currency"),
        ({"amount": "10.001", "currency": "EUR"}, "amount"),
        ({"amount": 10, "currency": "EUR"}, "amount"),
        ({"amount": "5.5*", "currency": "EUR"}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_amount_or_currency_is_a_validation_error(partner, member, body, param):
    response = partner.post("/benefits", {"member": member.ref, **body})

    assert_error(response, 400, "validation_error", param=param)


def test_a_bad_purchase_is_refused_before_anyone_is_looked_up(partner, member):
    """Whether the member exists is not told, nor looked up, for a request that is malformed."""
    unknown = partner.post("/benefits", {"member": "mem_" + "0" * 20, "amount": "10.00"})
    known = partner.post("/benefits", {"member": member.ref, "amount": "10.00"})

    assert_error(unknown, 400, "validation_error", param="currency")
    assert known.content == unknown.content
    assert not MemberLookup.objects.filter(member=member).exists()
