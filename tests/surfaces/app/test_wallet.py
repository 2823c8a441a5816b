"""The citizen app's perks and wallet: a member claims what they may, after a page that
says what it costs, learns why they may not (from the one eligibility check), and shows
their own vouchers' codes, each on a page named by the voucher's id, never by its code,
and kept by no HTTP cache; nobody sees anyone else's."""

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import formats, timezone

from loyalty.members.models import Locale
from loyalty.points.selectors import points_balance
from loyalty.points.services import points_adjust
from loyalty.scoring.models import HoldCategory, MemberStanding, Tier
from loyalty.scoring.services import hold_lift
from perks.catalog.models import PerkType
from perks.catalog.wording import perk_benefit
from perks.merchants.images import rendition_name
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from surfaces.app.templatetags.app_countdown import time_left_text
from tests.factories import HoldFactory, JoinedMemberFactory, MerchantFactory, PerkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return JoinedMemberFactory.create(points=300)


@pytest.fixture
def coffee():
    return PerkFactory.create(title="Free flat white", points_cost=120)


def _claim(client, perk, key="0" * 32):
    return client.post(reverse("app:perk-claim", args=[perk.ref]), {"claim_key": key})


def _offer(client, perk):
    return next(o for o in client.get(reverse("app:perks")).context["offers"] if o.perk == perk)


def _score(member, score):
    MemberStanding.objects.filter(member=member).update(score=score)


def _day(value):
    return formats.date_format(timezone.localtime(value).date(), "DATE_FORMAT")


# The perks page


def test_the_perks_page_offers_what_the_member_may_claim(signed_in, coffee):
    page = signed_in.get(reverse("app:perks"))

    assert page.status_code == 200
    offer = next(o for o in page.context["offers"] if o.perk == coffee)
    assert offer.can_claim
    assert offer.missing == []
    html = page.content.decode()
    assert reverse("app:perk-claim", args=[coffee.ref]) in html
    assert "Free flat white" in html
    assert perk_benefit(coffee) in html
    assert html.count("<h1") == 1


def test_costs_and_balances_are_written_with_thousands_grouped(signed_in, member):
    points_adjust(member=member, points=2000, note="bonus", idempotency_key="bonus", actor="test")
    PerkFactory.create(points_cost=1500)

    html = signed_in.get(reverse("app:perks")).content.decode()

    assert "1,500 points" in html
    assert "Your points: 2,300." in html


def test_a_perk_for_a_higher_tier_says_which_and_how_far_the_score_is(signed_in, member):
    top = Tier.objects.order_by("-rank")[0]
    _score(member, top.min_score - 38)
    MemberStanding.objects.filter(member=member).update(tier=Tier.objects.order_by("rank")[0])
    lounge = PerkFactory.create(title="Lounge", min_tier=top)

    offer = _offer(signed_in, lounge)

    assert not offer.can_claim
    assert [m.text for m in offer.missing] == [f"Reach {top.name}: your score needs 38 more points."]
    assert offer.missing[0].url == reverse("app:home")


def test_a_perk_with_a_minimum_score_says_the_score_needed_and_the_members(signed_in, member):
    _score(member, 612)
    rental = PerkFactory.create(min_score=650)

    offer = _offer(signed_in, rental)

    assert not offer.can_claim
    assert offer.missing[0].text == "Needs a score of 650; yours is 612."


def test_a_perk_on_hold_says_until_when_and_links_to_how_to_lift_it(signed_in, member, coffee):
    hold = HoldFactory.create(member=member, merchant_ref=coffee.merchant.ref, category=HoldCategory.ALL)

    page = signed_in.get(reverse("app:perks"))

    offer = next(o for o in page.context["offers"] if o.perk == coffee)
    assert offer.on_hold
    assert not offer.can_claim
    assert offer.missing[0].text == (
        f"On hold until {_day(hold.expires_at)}, by a hold {coffee.merchant.name} placed."
    )
    assert offer.missing[0].url == reverse("app:holds")
    html = page.content.decode()
    assert f'href="{reverse("app:holds")}">How to lift it</a>' in html
    assert reverse("app:perk-claim", args=[coffee.ref]) not in html


def test_a_perk_that_needs_days_without_a_hold_says_from_when(signed_in, member):
    perk = PerkFactory.create(type=PerkType.FREE_ITEM, hold_free_days=30)
    hold = HoldFactory.create(member=member, merchant_ref=perk.merchant.ref, category=HoldCategory.ALL)
    lifted_at = hold_lift(hold=hold, merchant_ref=perk.merchant.ref, note="paid").lifted_at
    assert lifted_at is not None

    offer = _offer(signed_in, perk)

    assert offer.on_hold
    assert offer.missing[0].text == (
        f"Claimable from {_day(lifted_at + timedelta(days=30))}: "
        f"it needs 30 days without a hold from {perk.merchant.name}."
    )


def test_a_hold_of_another_merchant_locks_nothing(signed_in, member, coffee):
    HoldFactory.create(member=member, merchant_ref="mch_0000000000000000000b", category=HoldCategory.ALL)

    assert _offer(signed_in, coffee).can_claim


def test_points_still_to_earn_are_shown(signed_in, member):
    pricey = PerkFactory.create(points_cost=1000)

    offer = _offer(signed_in, pricey)

    assert offer.points_short == 700
    assert not offer.can_claim
    assert [m.text for m in offer.missing] == ["700 more points to claim this."]


def test_every_reason_is_said_at_once(signed_in, member):
    _score(member, 600)
    perk = PerkFactory.create(min_score=700, points_cost=1000)
    HoldFactory.create(member=member, merchant_ref=perk.merchant.ref, category=HoldCategory.ALL)

    texts = [m.text for m in _offer(signed_in, perk).missing]

    # Eligibility answers with the first thing to fix (the score), and the points come after.
    assert texts == ["Needs a score of 700; yours is 600.", "700 more points to claim this."]


def test_a_perk_shows_its_image_and_its_merchants_logo_at_display_size(signed_in, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    merchant = MerchantFactory.create(logo="merchants/logos/brew.png")
    perk = PerkFactory.create(merchant=merchant, image="perks/prk_1/latte.png")
    for name in (
        "merchants/logos/brew.png",
        "perks/prk_1/latte.png",
        rendition_name("perks/prk_1/latte.png", 640),
    ):
        default_storage.save(name, ContentFile(b"x"))

    html = signed_in.get(reverse("app:perks")).content.decode()

    assert f'src="/media/{rendition_name("perks/prk_1/latte.png", 640)}"' in html
    assert 'src="/media/merchants/logos/brew.png"' in html
    assert f'alt="{merchant.name} logo"' in html
    assert html.count('loading="lazy"') == 2
    assert _offer(signed_in, perk).image_url.endswith(".w640.png")


def test_a_perk_without_pictures_gets_a_placeholder(signed_in, coffee):
    html = signed_in.get(reverse("app:perks")).content.decode()

    assert f'class="perk-art perk-art--{coffee.type}" aria-hidden="true"' in html
    assert "<img" not in html


def test_no_perk_on_offer_says_so(signed_in):
    html = signed_in.get(reverse("app:perks")).content.decode()

    assert "No perks are on offer right now." in html


# Claiming, after a confirmation


def test_the_confirmation_says_what_it_costs_and_what_is_left(signed_in, member, coffee):
    page = signed_in.get(reverse("app:perk-claim", args=[coffee.ref]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Claim for 120 points? You will have 180 left." in html
    assert re.search(r'name="claim_key" value="[0-9a-f]{32}"', html)
    assert f'href="{reverse("app:perks")}">Cancel</a>' in html
    assert html.count("<h1") == 1


def test_a_free_perk_says_it_costs_nothing(signed_in):
    free = PerkFactory.create(points_cost=0)

    html = signed_in.get(reverse("app:perk-claim", args=[free.ref])).content.decode()

    assert "Claim this perk? It costs no points." in html


def test_opening_the_confirmation_or_cancelling_claims_nothing(signed_in, member, coffee):
    signed_in.get(reverse("app:perk-claim", args=[coffee.ref]))
    signed_in.get(reverse("app:perks"))

    assert not Voucher.objects.filter(member=member).exists()
    assert points_balance(member=member) == 300


def test_the_confirmation_of_a_locked_perk_offers_no_claim(signed_in, member):
    pricey = PerkFactory.create(points_cost=1000)

    html = signed_in.get(reverse("app:perk-claim", args=[pricey.ref])).content.decode()

    assert "700 more points to claim this." in html
    assert 'name="claim_key"' not in html


def test_confirming_claims_once_puts_a_voucher_in_the_wallet_and_spends_the_points(signed_in, member, coffee):
    confirmation = signed_in.get(reverse("app:perk-claim", args=[coffee.ref]))
    found = re.search(r'name="claim_key" value="([0-9a-f]{32})"', confirmation.content.decode())
    assert found is not None
    key = found[1]

    response = _claim(signed_in, coffee, key=key)
    _claim(signed_in, coffee, key=key)  # a double tap on the same page

    voucher = Voucher.objects.get(member=member, perk=coffee)
    assert response.status_code == 302
    assert response["Location"] == reverse("app:voucher", args=[voucher.pk])
    assert points_balance(member=member) == 180
    assert signed_in.get(reverse("app:wallet")).context["page"].object_list[0] == voucher


def test_a_refused_claim_says_why_and_changes_nothing(signed_in, member):
    pricey = PerkFactory.create(points_cost=1000)

    page = _claim(signed_in, pricey)
    shown = signed_in.get(page["Location"])

    assert not Voucher.objects.filter(member=member).exists()
    assert points_balance(member=member) == 300
    assert any("points" in str(message).lower() for message in shown.context["messages"])


def test_a_claim_key_that_is_not_ours_is_refused(signed_in, member, coffee):
    _claim(signed_in, coffee, key="not-a-key")

    assert not Voucher.objects.filter(member=member).exists()


def test_a_perk_no_longer_on_offer_is_not_found(signed_in, coffee):
    coffee.status = "paused"
    coffee.save(update_fields=["status"])

    assert signed_in.get(reverse("app:perk-claim", args=[coffee.ref])).status_code == 404
    assert _claim(signed_in, coffee).status_code == 404


# The wallet


def test_the_wallet_lists_vouchers_with_uses_left_and_time_to_expiry(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)
    Voucher.objects.filter(pk=voucher.pk).update(
        uses_allowed=3, uses_count=1, expires_at=timezone.now() + timedelta(days=3, minutes=5)
    )

    html = signed_in.get(reverse("app:wallet")).content.decode()

    assert "Free flat white" in html
    assert "2 uses left" in html
    assert "in 3 days" in html
    assert re.search(r'data-countdown="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', html)
    assert html.count("<h1") == 1


def test_the_wallet_links_each_voucher_by_id_never_by_code(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    wallet = signed_in.get(reverse("app:wallet")).content.decode()
    page = signed_in.get(reverse("app:voucher", args=[voucher.pk])).content.decode()

    assert reverse("app:voucher", args=[voucher.pk]) in wallet
    assert reverse("app:voucher-qr", args=[voucher.pk, "svg"]) in page
    assert voucher.code not in wallet
    assert f"/{voucher.code}" not in page
    assert f"/{code_format(voucher.code)}" not in page


def test_used_and_expired_vouchers_are_kept_apart(signed_in, member, coffee):
    _claim(signed_in, coffee, key="1" * 32)
    _claim(signed_in, coffee, key="2" * 32)
    used, ready = Voucher.objects.filter(member=member).order_by("pk")
    Voucher.objects.filter(pk=used.pk).update(status=VoucherStatus.REDEEMED, uses_count=1)

    current = signed_in.get(reverse("app:wallet")).context["page"].object_list
    past = signed_in.get(reverse("app:wallet") + "?show=past")

    assert list(current) == [ready]
    assert list(past.context["page"].object_list) == [used]
    assert "Used ·" in past.content.decode()


def test_an_empty_wallet_points_to_the_perks(signed_in):
    page = signed_in.get(reverse("app:wallet")).content.decode()

    assert "No vouchers yet." in page
    assert f'href="{reverse("app:perks")}"' in page


def test_a_member_who_reads_chinese_gets_the_wallet_in_chinese(client, member):
    member.locale = Locale.SIMPLIFIED_CHINESE
    member.save(update_fields=["locale"])
    client.force_login(member.user)

    page = client.get(reverse("app:wallet")).content.decode()

    assert "还没有券。" in page


# A voucher's page


def test_the_voucher_page_shows_the_code_uses_left_countdown_and_brightness_hint(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() + timedelta(hours=5, minutes=1))
    voucher.refresh_from_db()

    page = signed_in.get(reverse("app:voucher", args=[voucher.pk]))
    qr = signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "svg"]))
    png = signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "png"]))

    html = page.content.decode()
    assert code_format(voucher.code) in html
    assert re.search(r"<dt>Uses left</dt><dd>1<", html)
    countdown = re.search(
        r'<time class="voucher-countdown" datetime="([^"]+)" data-countdown="([^"]+)"', html
    )
    assert countdown is not None
    assert countdown[1] == countdown[2] == voucher.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ">in 5 hours</time>" in html
    assert "Turn your screen brightness up to scan." in html
    assert "js/app/countdown.js" in html
    assert html.count("<h1") == 1
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert png.content.startswith(b"\x89PNG")


def test_an_expired_voucher_shows_no_qr_code(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)
    past = timezone.now() - timedelta(days=1)
    Voucher.objects.filter(pk=voucher.pk).update(
        issued_at=past - timedelta(days=30), valid_from=past - timedelta(days=30), expires_at=past
    )

    html = signed_in.get(reverse("app:voucher", args=[voucher.pk])).content.decode()

    assert reverse("app:voucher-qr", args=[voucher.pk, "svg"]) not in html
    assert "Expired on" in html


def test_a_voucher_page_and_its_images_are_kept_by_no_cache(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    for response in (
        signed_in.get(reverse("app:voucher", args=[voucher.pk])),
        signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "svg"])),
        signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "png"])),
    ):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


def test_a_voucher_keeps_its_addresses(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    # The app's service worker caches these for offline use, by these very paths.
    assert reverse("app:wallet") == "/app/wallet/"
    assert reverse("app:voucher", args=[voucher.pk]) == f"/app/wallet/{voucher.pk}/"
    assert reverse("app:voucher-qr", args=[voucher.pk, "svg"]) == f"/app/wallet/{voucher.pk}/qr.svg"


def test_a_voucher_is_no_longer_found_by_its_code(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    assert signed_in.get(f"/app/wallet/{voucher.code}/").status_code == 404
    assert signed_in.get(f"/app/wallet/{voucher.code}/qr.svg").status_code == 404


def test_another_members_voucher_is_not_found(client, member, coffee):
    client.force_login(member.user)
    _claim(client, coffee)
    voucher = Voucher.objects.get(member=member)
    client.force_login(JoinedMemberFactory.create().user)

    assert client.get(reverse("app:voucher", args=[voucher.pk])).status_code == 404
    assert client.get(reverse("app:voucher-qr", args=[voucher.pk, "svg"])).status_code == 404


def test_unknown_vouchers_and_image_kinds_are_not_found(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    assert signed_in.get(reverse("app:voucher", args=[voucher.pk + 1])).status_code == 404
    assert signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "gif"])).status_code == 404


# Time left, in words


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (timedelta(days=3, hours=5), "in 3 days"),
        (timedelta(days=2), "in 2 days"),
        (timedelta(days=1, hours=23), "in 47 hours"),
        (timedelta(hours=2), "in 2 hours"),
        (timedelta(hours=1, minutes=59), "in 119 minutes"),
        (timedelta(seconds=30), "in 1 minute"),
        (timedelta(0), "expired"),
        (timedelta(days=-1), "expired"),
    ],
)
def test_time_left_is_said_in_the_largest_unit_that_says_enough(left, text):
    now = timezone.now()

    assert time_left_text(now + left, now=now) == text


def test_many_days_left_are_grouped_in_thousands():
    now = timezone.now()

    assert time_left_text(now + timedelta(days=1200), now=now) == "in 1,200 days"
