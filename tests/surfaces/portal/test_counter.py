"""The cashier's counter: check a code without using it, redeem it once however often the
form is sent, undo a mistake when the role allows; never another merchant's voucher."""

import uuid

import pytest
from django.urls import reverse

from perks.merchants.permissions import Role
from perks.vouchers.codes import code_format
from perks.vouchers.models import Redemption, RedemptionChannel, Voucher
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return StaffFactory.create(role=Role.OWNER)


@pytest.fixture
def voucher(owner) -> Voucher:
    perk = PerkFactory.create(merchant=owner.merchant, title="Free flat white", uses_per_voucher=2)
    return voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user)


def _counter(merchant):
    return reverse("portal:counter", args=[merchant.slug])


def _send(client, merchant, code, action, submission=None, **extra):
    """Post the counter form; each call is a fresh form unless `submission` repeats one."""
    submission = submission or uuid.uuid4().hex
    return client.post(_counter(merchant), {"code": code, "submission": submission, action: "1", **extra})


def test_checking_a_code_shows_the_voucher_and_changes_nothing(client, owner, voucher):
    client.force_login(owner.user)

    page = _send(client, owner.merchant, code_format(voucher.code).lower(), "check")

    assert page.context["validation"].valid
    assert "Free flat white" in page.content.decode()
    voucher.refresh_from_db()
    assert voucher.uses_count == 0


def test_a_cashier_redeems_at_a_location(client, owner, voucher):
    cashier = StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER)
    location = LocationFactory.create(merchant=owner.merchant)
    client.force_login(cashier.user)

    page = _send(client, owner.merchant, voucher.code, "redeem", location=location.code)

    redemption = Redemption.objects.get(voucher=voucher)
    assert page.context["redemption"] == redemption
    assert redemption.channel == RedemptionChannel.PORTAL
    assert redemption.location == location
    assert redemption in page.context["recent"]


def test_the_same_form_sent_twice_redeems_once(client, owner, voucher):
    client.force_login(owner.user)

    submission = uuid.uuid4().hex
    _send(client, owner.merchant, voucher.code, "redeem", submission=submission)
    again = _send(client, owner.merchant, voucher.code, "redeem", submission=submission)

    assert Redemption.objects.filter(voucher=voucher).count() == 1
    assert any(m.level_tag == "warning" for m in again.context["messages"])


def test_a_refusal_is_shown_with_its_reason(client, owner):
    client.force_login(owner.user)

    page = _send(client, owner.merchant, "0000-0000-0000-0", "redeem")

    assert page.context["redemption"] is None
    assert any(m.level_tag == "error" for m in page.context["messages"])


def test_another_merchants_voucher_is_unknown_at_this_counter(client, voucher):
    stranger = StaffFactory.create(role=Role.OWNER)
    client.force_login(stranger.user)

    checked = _send(client, stranger.merchant, voucher.code, "check")
    _send(client, stranger.merchant, voucher.code, "redeem")

    assert not checked.context["validation"].valid
    assert checked.context["validation"].reason == "not_found"
    assert not Redemption.objects.exists()


def test_a_manager_reverses_a_redemption_and_a_cashier_cannot(client, owner, voucher):
    client.force_login(owner.user)
    _send(client, owner.merchant, voucher.code, "redeem")
    redemption = Redemption.objects.get()
    url = reverse("portal:redemption-reversal", args=[owner.merchant.slug, redemption.ref])

    client.force_login(StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER).user)
    client.post(url)
    assert not hasattr(Redemption.objects.get(), "reversal")

    client.force_login(StaffFactory.create(merchant=owner.merchant, role=Role.MANAGER).user)
    client.post(url, {"reason": "Rang up twice"})
    voucher.refresh_from_db()
    assert Redemption.objects.get().reversal.reason == "Rang up twice"
    assert voucher.uses_count == 0


def test_another_merchants_redemption_cannot_be_reversed_here(client, owner, voucher):
    client.force_login(owner.user)
    _send(client, owner.merchant, voucher.code, "redeem")
    redemption = Redemption.objects.get()
    stranger = StaffFactory.create(role=Role.OWNER)
    client.force_login(stranger.user)

    client.post(reverse("portal:redemption-reversal", args=[stranger.merchant.slug, redemption.ref]))

    assert not hasattr(Redemption.objects.get(), "reversal")


def test_the_cashier_reads_what_the_voucher_gives_in_words(client, owner):
    waiver = PerkFactory.create(
        merchant=owner.merchant,
        type="deposit_waiver",
        params={"max_amount": "5000.00", "currency": "CNY"},
    )
    voucher = voucher_issue(perk=waiver, member=JoinedMemberFactory.create(), actor=owner.user)
    client.force_login(owner.user)

    page = _send(client, owner.merchant, voucher.code, "redeem", amount="3000", currency="CNY")

    assert ("Deposit waived", "3000.00") in page.context["benefit_lines"]
    assert "Deposit waived" in page.content.decode()
