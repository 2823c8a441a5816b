"""The citizen app's perks and wallet: a member claims what they may, learns why they may
not, and shows their own vouchers' codes, each on a page named by the voucher's id, never
by its code, and kept by no cache; nobody sees anyone else's."""

import re

import pytest
from django.urls import reverse

from loyalty.members.models import Locale
from loyalty.points.selectors import points_balance
from loyalty.points.services import points_adjust
from loyalty.scoring.models import HoldCategory, Tier
from perks.vouchers.codes import code_format
from perks.vouchers.models import Voucher, VoucherStatus
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    member = JoinedMemberFactory.create()
    points_adjust(
        member=member, points=300, note="welcome", idempotency_key=f"gift-{member.pk}", actor="test"
    )
    return member


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def coffee():
    return PerkFactory.create(title="Free flat white", points_cost=120)


def _claim(client, perk, key="0" * 32):
    return client.post(reverse("app:perk-claim", args=[perk.ref]), {"claim_key": key})


def test_the_perks_page_offers_what_the_member_may_claim(signed_in, coffee):
    page = signed_in.get(reverse("app:perks"))

    assert page.status_code == 200
    offer = next(o for o in page.context["offers"] if o.perk == coffee)
    assert offer.can_claim
    assert reverse("app:perk-claim", args=[coffee.ref]) in page.content.decode()


def test_a_perk_out_of_reach_says_what_unlocks_it(signed_in, member):
    top = Tier.objects.order_by("-rank")[0]
    lounge = PerkFactory.create(title="Lounge", min_tier=top)

    offer = next(o for o in signed_in.get(reverse("app:perks")).context["offers"] if o.perk == lounge)

    assert not offer.can_claim
    assert offer.why_not == f"Unlocks at {top.name}."


def test_a_perk_on_hold_points_to_the_hold_without_blame(signed_in, member, coffee):
    HoldFactory.create(member=member, merchant_ref=coffee.merchant.ref, category=HoldCategory.ALL)

    page = signed_in.get(reverse("app:perks"))

    offer = next(o for o in page.context["offers"] if o.perk == coffee)
    assert offer.on_hold
    assert not offer.can_claim
    assert coffee.merchant.name in offer.why_not
    assert reverse("app:holds") in page.content.decode()


def test_points_still_to_earn_are_shown(signed_in, member):
    pricey = PerkFactory.create(points_cost=1000)

    offer = next(o for o in signed_in.get(reverse("app:perks")).context["offers"] if o.perk == pricey)

    assert offer.points_short == 700
    assert not offer.can_claim


def test_claiming_puts_a_voucher_in_the_wallet_and_spends_the_points(signed_in, member, coffee):
    response = _claim(signed_in, coffee)

    voucher = Voucher.objects.get(member=member, perk=coffee)
    assert response.status_code == 302
    assert response["Location"] == reverse("app:voucher", args=[voucher.pk])
    assert points_balance(member=member) == 180
    assert signed_in.get(reverse("app:wallet")).context["page"].object_list[0] == voucher


def test_a_double_tap_claims_once(signed_in, member, coffee):
    _claim(signed_in, coffee, key="a" * 32)
    _claim(signed_in, coffee, key="a" * 32)

    assert Voucher.objects.filter(member=member, perk=coffee).count() == 1
    assert points_balance(member=member) == 180


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


def test_the_voucher_page_shows_the_code_and_its_qr_image(signed_in, member, coffee):
    _claim(signed_in, coffee)
    voucher = Voucher.objects.get(member=member)

    page = signed_in.get(reverse("app:voucher", args=[voucher.pk]))
    qr = signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "svg"]))
    png = signed_in.get(reverse("app:voucher-qr", args=[voucher.pk, "png"]))

    assert code_format(voucher.code) in page.content.decode()
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert png.content.startswith(b"\x89PNG")


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


def test_used_and_expired_vouchers_are_kept_apart(signed_in, member, coffee):
    _claim(signed_in, coffee, key="1" * 32)
    _claim(signed_in, coffee, key="2" * 32)
    used, ready = Voucher.objects.filter(member=member).order_by("pk")
    Voucher.objects.filter(pk=used.pk).update(status=VoucherStatus.REDEEMED, uses_count=1)

    current = signed_in.get(reverse("app:wallet")).context["page"].object_list
    past = signed_in.get(reverse("app:wallet") + "?show=past").context["page"].object_list

    assert list(current) == [ready]
    assert list(past) == [used]


def test_an_empty_wallet_points_to_the_perks(signed_in):
    page = signed_in.get(reverse("app:wallet")).content.decode()

    assert re.search(r"No vouchers yet", page)
    assert reverse("app:perks") in page


def test_a_member_who_reads_chinese_gets_the_wallet_in_chinese(client, member):
    member.locale = Locale.SIMPLIFIED_CHINESE
    member.save(update_fields=["locale"])
    client.force_login(member.user)

    page = client.get(reverse("app:wallet")).content.decode()

    assert "还没有券。" in page
