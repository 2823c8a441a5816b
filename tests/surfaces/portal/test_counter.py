"""The cashier's counter: check a code without using it, redeem it once however often the
form is sent, be told in a sentence one can act on why a code is refused, find the field
empty for the next customer, keep the device's location, undo a mistake after a
confirmation when the role allows; never another merchant's voucher."""

import re
import uuid
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from loyalty.scoring.models import HoldCategory
from perks.catalog.errors import MemberNotEligible, MemberOnHold, PerkInactive
from perks.merchants.permissions import Role
from perks.vouchers.codes import CHECK_SYMBOLS, code_format, code_generate
from perks.vouchers.errors import (
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotYetValid,
    VoucherReserved,
    VoucherRevoked,
)
from perks.vouchers.models import Redemption, RedemptionChannel, Voucher
from perks.vouchers.services import voucher_issue
from surfaces.portal.cashier import LOCATION_COOKIE
from surfaces.portal.counter_messages import FALLBACK, counter_message
from tests.factories import HoldFactory, JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory

pytestmark = pytest.mark.django_db
LOCAL = ZoneInfo(settings.TIME_ZONE)
NOT_A_CODE = "That is not a voucher code: codes look like XXXX-XXXX-XXXX-X, 13 letters and digits."


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


def _refusal(page) -> str:
    """What the page says beside the code field, which the page must also show as an alert
    the field is described by."""
    [said] = page.context["form"].errors["code"]
    html = page.content.decode()
    assert f'<p class="errorlist" id="id_code_error" role="alert">{escape(said)}</p>' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_code_helptext id_code_error"' in html
    return said


def _typo(code: str) -> str:
    """`code` with its check symbol mistyped."""
    return code[:-1] + next(symbol for symbol in CHECK_SYMBOLS if symbol != code[-1])


def _single_use(owner, title="Free coffee") -> Voucher:
    perk = PerkFactory.create(merchant=owner.merchant, title=title)
    return voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner.user)


def test_checking_a_code_shows_the_voucher_and_changes_nothing(client, owner, voucher):
    client.force_login(owner.user)

    page = _send(client, owner.merchant, code_format(voucher.code).lower(), "check")

    assert page.context["validation"].valid
    assert "Free flat white" in page.content.decode()
    assert page.context["form"]["code"].value() == code_format(voucher.code).lower()  # to redeem next
    voucher.refresh_from_db()
    assert voucher.uses_count == 0


def test_a_cashier_redeems_at_a_location_and_finds_the_field_empty_and_focused(client, owner, voucher):
    cashier = StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER)
    location = LocationFactory.create(merchant=owner.merchant, name="Airport T2")
    client.force_login(cashier.user)

    page = _send(client, owner.merchant, voucher.code, "redeem", location=location.code, amount="")

    redemption = Redemption.objects.get(voucher=voucher)
    assert page.context["redemption"] == redemption
    assert redemption.channel == RedemptionChannel.PORTAL
    assert redemption.location == location
    assert redemption in page.context["recent"]
    form = page.context["form"]
    assert not form.is_bound
    assert form["code"].value() is None
    assert form["location"].value() == location.code
    html = page.content.decode()
    assert f"Redeemed {code_format(voucher.code)}." in html
    [field] = re.findall(r'<input type="text" name="code"[^>]*>', html)
    assert " autofocus" in field
    assert "value=" not in field


def test_the_same_form_sent_twice_redeems_once(client, owner, voucher):
    client.force_login(owner.user)

    submission = uuid.uuid4().hex
    _send(client, owner.merchant, voucher.code, "redeem", submission=submission)
    again = _send(client, owner.merchant, voucher.code, "redeem", submission=submission)

    assert Redemption.objects.filter(voucher=voucher).count() == 1
    assert any(m.level_tag == "warning" for m in again.context["messages"])


def test_a_refused_form_comes_back_with_a_new_submission_so_the_corrected_code_redeems(
    client, owner, voucher
):
    client.force_login(owner.user)
    submission = uuid.uuid4().hex

    refused = _send(client, owner.merchant, _typo(voucher.code), "redeem", submission=submission)
    renewed = refused.context["form"]["submission"].value()
    _send(client, owner.merchant, voucher.code, "redeem", submission=renewed)

    assert renewed != submission
    assert Redemption.objects.filter(voucher=voucher).count() == 1


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Type or scan the voucher code."),
        ("   ", "Type or scan the voucher code."),
        ("hello", "That is not a voucher code: codes look like XXXX-XXXX-XXXX-X, 13 letters and digits."),
        (
            "ABCD-EFGH-JKMN",
            "That is not a voucher code: codes look like XXXX-XXXX-XXXX-X, 13 letters and digits.",
        ),
    ],
)
def test_what_is_no_code_is_told_in_words_before_any_voucher_is_read(client, owner, typed, said):
    client.force_login(owner.user)

    for action in ("redeem", "check"):
        page = _send(client, owner.merchant, typed, action)

        assert _refusal(page) == said
    assert not Redemption.objects.exists()


def test_a_mistyped_code_is_told_its_last_character_does_not_match(client, owner, voucher):
    client.force_login(owner.user)
    typo = _typo(voucher.code)

    page = _send(client, owner.merchant, code_format(typo), "redeem")

    assert _refusal(page) == "Check the code: the last character does not match."
    assert page.context["form"]["code"].value() == code_format(typo)  # kept, to correct it
    assert not Redemption.objects.exists()


def test_a_well_formed_code_no_voucher_has_is_unknown_here(client, owner):
    client.force_login(owner.user)

    for action in ("redeem", "check"):
        page = _send(client, owner.merchant, code_format(code_generate()), action)

        assert _refusal(page) == "No voucher here has this code."


def test_another_merchants_voucher_is_unknown_at_this_counter(client, voucher):
    stranger = StaffFactory.create(role=Role.OWNER)
    client.force_login(stranger.user)

    checked = _send(client, stranger.merchant, voucher.code, "check")
    redeemed = _send(client, stranger.merchant, voucher.code, "redeem")

    assert _refusal(checked) == _refusal(redeemed) == "No voucher here has this code."
    assert not Redemption.objects.exists()


def test_a_used_voucher_says_when_and_where_it_was_used(client, owner):
    client.force_login(owner.user)
    airport = LocationFactory.create(merchant=owner.merchant, name="Airport T2")
    with time_machine.travel(datetime(2026, 3, 3, 14, 2, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        voucher = _single_use(owner)
        _send(client, owner.merchant, voucher.code, "redeem", location=airport.code)
    with time_machine.travel(datetime(2026, 3, 3, 16, 30, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        redeemed = _send(client, owner.merchant, voucher.code, "redeem")
        checked = _send(client, owner.merchant, voucher.code, "check")
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        days_later = _send(client, owner.merchant, voucher.code, "redeem")

    assert _refusal(redeemed) == _refusal(checked) == "Already used at 14:02 at Airport T2."
    assert _refusal(days_later) == "Already used on 3 March at 14:02 at Airport T2."
    assert Redemption.objects.count() == 1


def test_a_reversed_use_is_not_the_one_a_refusal_names(client, owner):
    client.force_login(owner.user)
    airport = LocationFactory.create(merchant=owner.merchant, name="Airport T2")
    with time_machine.travel(datetime(2026, 3, 3, 9, 15, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        voucher = _single_use(owner)
        _send(client, owner.merchant, voucher.code, "redeem", location=airport.code)
        client.post(_reversal_url(owner.merchant, Redemption.objects.get()))
    with time_machine.travel(datetime(2026, 3, 3, 11, 40, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        _send(client, owner.merchant, voucher.code, "redeem")
        again = _send(client, owner.merchant, voucher.code, "redeem")

    assert _refusal(again) == "Already used at 11:40."


def test_a_member_on_hold_is_told_until_when_and_nothing_of_why(client, owner):
    client.force_login(owner.user)
    with time_machine.travel(datetime(2026, 2, 1, 10, 0, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        voucher = _single_use(owner)
        hold = HoldFactory.create(
            member=voucher.member,
            merchant_ref=owner.merchant.ref,
            merchant_name=owner.merchant.name,
            category=HoldCategory.ALL,
            expires_at=datetime(2026, 3, 3, 18, 0, tzinfo=LOCAL),
        )
        page = _send(client, owner.merchant, voucher.code, "redeem")

    said = _refusal(page)
    assert said == "This member's perks here are on hold until 3 March."
    html = page.content.decode()
    assert hold.evidence not in html
    assert hold.get_reason_code_display() not in html
    assert not Redemption.objects.exists()


def test_an_expired_or_not_yet_valid_voucher_says_since_or_from_when(client, owner):
    client.force_login(owner.user)
    with time_machine.travel(datetime(2026, 3, 3, 8, 0, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        expired, early = _single_use(owner), _single_use(owner)
    Voucher.objects.filter(pk=expired.pk).update(expires_at=datetime(2026, 3, 5, 20, 0, tzinfo=LOCAL))
    Voucher.objects.filter(pk=early.pk).update(valid_from=datetime(2026, 3, 9, 7, 30, tzinfo=LOCAL))

    with time_machine.travel(datetime(2026, 3, 6, 12, 0, tzinfo=LOCAL), tick=False):
        client.force_login(owner.user)  # a session of that day
        too_late = _send(client, owner.merchant, expired.code, "redeem")
        too_soon = _send(client, owner.merchant, early.code, "check")

    assert _refusal(too_late) == "This voucher expired on 5 March at 20:00."
    assert _refusal(too_soon) == "This voucher can be used from 9 March at 07:30."


@pytest.mark.parametrize(
    "refusal",
    [
        VoucherRevoked,
        VoucherExpired,
        VoucherNotYetValid,
        VoucherAlreadyRedeemed,
        VoucherReserved,
        PerkInactive,
        MemberNotEligible,
        MemberOnHold,
    ],
)
def test_every_refusal_of_a_voucher_at_a_counter_has_its_own_sentence(refusal):
    said = counter_message(refusal.code)

    assert said != str(FALLBACK)


def test_a_wrong_amount_is_said_beside_the_amount(client, owner, voucher):
    client.force_login(owner.user)

    page = _send(client, owner.merchant, voucher.code, "redeem", amount="12.345", currency="CNY")

    assert page.context["form"].errors["amount"] == ["CNY amounts have at most 2 decimals."]
    assert not Redemption.objects.exists()


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


def test_the_currency_offered_first_is_the_merchants(client, owner):
    client.force_login(owner.user)

    page = client.get(_counter(owner.merchant))

    assert page.context["form"]["currency"].value() == "CNY"


def test_the_location_picked_is_remembered_on_this_device_for_this_merchant(client, owner, voucher):
    airport = LocationFactory.create(merchant=owner.merchant, name="Airport T2")
    LocationFactory.create(merchant=owner.merchant, name="Station")
    client.force_login(owner.user)

    redeemed = _send(client, owner.merchant, voucher.code, "redeem", location=airport.code)
    cookie = redeemed.cookies[LOCATION_COOKIE]
    later = client.get(_counter(owner.merchant))

    assert cookie.value == airport.code
    assert cookie["path"] == _counter(owner.merchant)
    assert cookie["httponly"]
    assert later.context["form"]["location"].value() == airport.code
    assert f'<option value="{airport.code}" selected>' in later.content.decode()


def test_a_remembered_location_that_is_not_this_merchants_is_not_picked(client, owner):
    elsewhere = LocationFactory.create(name="Somewhere else")
    client.force_login(owner.user)
    client.cookies[LOCATION_COOKIE] = elsewhere.code

    page = client.get(_counter(owner.merchant))

    assert page.context["form"]["location"].value() == ""


def test_the_counter_may_use_the_camera_and_every_other_page_may_not(client, owner):
    client.force_login(owner.user)

    counter = client.get(_counter(owner.merchant))
    keys = client.get(reverse("portal:keys", args=[owner.merchant.slug]))

    assert "camera=(self)" in counter["Permissions-Policy"]
    assert "microphone=()" in counter["Permissions-Policy"]
    assert "camera=()" in keys["Permissions-Policy"]
    assert "/static/js/portal/counter.js" in counter.content.decode()
    assert "data-counter-scan hidden" in counter.content.decode()  # until the script finds a detector


def test_enter_redeems_as_the_first_button_of_the_form(client, owner):
    client.force_login(owner.user)

    html = client.get(_counter(owner.merchant)).content.decode()

    form = html[html.index('id="counter-form"') :]
    assert form.index('name="redeem"') < form.index('name="check"')


def _reversal_url(merchant, redemption):
    return reverse("portal:redemption-reversal", args=[merchant.slug, redemption.ref])


def test_reversing_asks_first_saying_what_it_does(client, owner, voucher):
    client.force_login(owner.user)
    page = _send(client, owner.merchant, voucher.code, "redeem")
    redemption = Redemption.objects.get()
    url = _reversal_url(owner.merchant, redemption)
    assert url in page.content.decode()  # the result offers it

    asked = client.get(url)

    html = asked.content.decode()
    assert "Reverse this redemption of Free flat white?" in html
    assert "gives the member the use back on their voucher" in html
    assert "takes this redemption's fee off your next invoice" in html
    assert not hasattr(Redemption.objects.get(), "reversal")


def test_confirming_reverses_once_and_says_so(client, owner, voucher):
    client.force_login(owner.user)
    _send(client, owner.merchant, voucher.code, "redeem")
    url = _reversal_url(owner.merchant, Redemption.objects.get())

    done = client.post(url, {"reason": "Rang up twice"}, follow=True)
    again = client.post(url)

    voucher.refresh_from_db()
    assert voucher.uses_count == 0
    assert Redemption.objects.get().reversal.reason == "Rang up twice"
    assert (
        "Reversed the redemption of Free flat white: the use is back on its voucher." in done.content.decode()
    )
    assert again.status_code == 200
    assert "This redemption was already reversed." in again.content.decode()


def test_a_manager_reverses_a_redemption_and_a_cashier_cannot(client, owner, voucher):
    client.force_login(owner.user)
    _send(client, owner.merchant, voucher.code, "redeem")
    redemption = Redemption.objects.get()
    url = _reversal_url(owner.merchant, redemption)

    client.force_login(StaffFactory.create(merchant=owner.merchant, role=Role.CASHIER).user)
    cashier_page = client.get(_counter(owner.merchant)).content.decode()
    assert client.get(url).status_code == 403
    client.post(url)
    assert not hasattr(Redemption.objects.get(), "reversal")
    assert url not in cashier_page
    assert "Reverse…" not in cashier_page

    client.force_login(StaffFactory.create(merchant=owner.merchant, role=Role.MANAGER).user)
    assert url in client.get(_counter(owner.merchant)).content.decode()
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

    asked = client.get(_reversal_url(stranger.merchant, redemption))
    client.post(_reversal_url(stranger.merchant, redemption))

    assert asked.status_code == 404
    assert not hasattr(Redemption.objects.get(), "reversal")
