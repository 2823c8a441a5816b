"""What the member reads about a perk outside its card, in their language: the messages
about their vouchers, and their data download. A perk without a Chinese title reads in
English in Chinese too."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from loyalty.members.models import Member, Notification
from loyalty.members.services import notification_add
from loyalty.scoring.models import SCORE_MIN
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.campaigns.services import campaign_chunk_issue, campaign_create, campaign_plan
from perks.vouchers.models import Voucher, VoucherSource
from perks.vouchers.services import voucher_issue, voucher_redeem, voucher_revoke
from perks.vouchers.services.side_effects import (
    redemption_side_effects_apply,
    redemptions_side_effects_apply,
)
from surfaces.app.notices import notices_of
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory, StaffFactory
from tests.factories.vouchers import VoucherFactory
from tests.support.links import linked

pytestmark = pytest.mark.django_db

EN, ZH = "en", "zh-hans"


@pytest.fixture
def merchant():
    return MerchantFactory.create(name="Blue Kettle")


@pytest.fixture
def owner(merchant):
    return StaffFactory.create(merchant=merchant).user


@pytest.fixture
def perk(merchant):
    return PerkFactory.create(merchant=merchant, title="A free coffee", title_zh="免费咖啡一杯")


@pytest.fixture
def member():
    return JoinedMemberFactory.create()


def _texts(member: Member, language: str) -> list[str]:
    with translation.override(language):
        return [notice.text for notice in notices_of(member=member, limit=10)]


def _mentions(member: Member, language: str, title: str) -> bool:
    return any(title in text for text in _texts(member, language))


def test_a_voucher_given_is_announced_with_the_perks_title_in_each_language(perk, member):
    voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO)

    assert _mentions(member, ZH, "免费咖啡一杯")
    assert not _mentions(member, ZH, "A free coffee")
    assert _mentions(member, EN, "A free coffee")
    assert not _mentions(member, EN, "免费咖啡一杯")


def test_without_a_chinese_title_the_english_one_is_shown_in_chinese(merchant, member):
    perk = PerkFactory.create(merchant=merchant, title="A free coffee")

    voucher_issue(perk=perk, member=member, actor=None, source=VoucherSource.AUTO)

    assert _mentions(member, ZH, "A free coffee")


def test_a_message_written_before_perks_had_chinese_titles_still_reads(member):
    notification_add(
        member=member, kind="voucher_issued", dedupe_key="old", params={"perk": "Old coffee", "merchant": "M"}
    )

    assert _mentions(member, ZH, "Old coffee")
    assert _mentions(member, EN, "Old coffee")


def test_a_revoked_voucher_is_announced_in_the_members_language(perk, member, owner):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    voucher_revoke(voucher=voucher, actor=owner, reason="Issued by mistake")

    revoked = Notification.objects.get(member=member, kind="voucher_revoked")
    assert (revoked.params["perk"], revoked.params["perk_zh"]) == ("A free coffee", "免费咖啡一杯")
    assert sum("免费咖啡一杯" in text for text in _texts(member, ZH)) == 2


@pytest.mark.parametrize("apply", ["one", "batch"])
def test_a_redemption_is_announced_in_the_members_language(
    perk, member, merchant, owner, apply, django_capture_on_commit_callbacks
):
    key = api_key_create(merchant=merchant, actor=owner, name="Till", scopes=Scope.values).key
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    with django_capture_on_commit_callbacks(execute=False):  # the side effects run here instead
        redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    if apply == "one":
        redemption_side_effects_apply(redemption_id=redemption.pk)
    else:
        redemptions_side_effects_apply(redemption_ids=[redemption.pk])

    redeemed = Notification.objects.get(member=member, kind="voucher_redeemed")
    assert (redeemed.params["perk"], redeemed.params["perk_zh"]) == ("A free coffee", "免费咖啡一杯")
    with translation.override(ZH):
        assert any(
            "免费咖啡一杯" in notice.text and "A free coffee" not in notice.text
            for notice in notices_of(member=member, limit=10)
        )


def test_a_campaigns_voucher_reads_in_the_members_language(perk, member, merchant, owner):
    campaign = campaign_create(merchant=merchant, actor=owner, perk=perk, min_score=SCORE_MIN)
    for chunk_id in campaign_plan(campaign_id=campaign.pk, chunk_size=10):
        campaign_chunk_issue(chunk_id=chunk_id)
    assert Voucher.objects.filter(member=member, source=VoucherSource.CAMPAIGN).exists()

    assert _mentions(member, ZH, "免费咖啡一杯")
    assert _mentions(member, EN, "A free coffee")


@pytest.mark.parametrize(("language", "title"), [(EN, "A free coffee"), (ZH, "免费咖啡一杯")])
def test_the_data_download_names_perks_in_the_members_language(perk, language, title):
    member = JoinedMemberFactory.create(locale=language)
    linked(member, perk.merchant)
    VoucherFactory.create(perk=perk, member=member)
    client = Client(headers={"Accept-Language": language})
    client.cookies["django_language"] = language
    client.force_login(member.user)

    response = client.get(reverse("app:privacy-export"))

    assert [voucher["perk"] for voucher in json.loads(response.content)["vouchers"]] == [title]
