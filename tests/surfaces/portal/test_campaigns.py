"""Campaign pages of the portal: create with errors shown, progress polled, codes, isolation."""

import pytest
from django.urls import reverse

from perks.merchants.permissions import Role
from perks.vouchers.campaigns.services import campaign_chunk_issue, campaign_create, campaign_plan
from perks.vouchers.codes import code_format
from perks.vouchers.models import Campaign, Voucher
from tests.factories import MerchantFactory, PerkFactory, StaffFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.support.links import linked

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    staff = StaffFactory.create(role=Role.MANAGER)
    client.force_login(staff.user)
    return staff


def started(staff, perk, **audience):
    return campaign_create(merchant=staff.merchant, actor=staff.user, perk=perk, **audience)


def test_a_manager_starts_a_campaign_and_lands_on_its_page(client, staff, django_capture_on_commit_callbacks):
    perk = PerkFactory.create(merchant=staff.merchant, title="Free flat white")
    url = reverse("portal:campaigns", args=[staff.merchant.slug])

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {"perk": perk.ref, "min_tier": "gold", "min_score": ""})

    campaign = Campaign.objects.get(merchant=staff.merchant)
    assert response["Location"] == reverse("portal:campaign", args=[staff.merchant.slug, campaign.ref])
    assert campaign.audience_min_tier is not None
    assert campaign.audience_min_tier.slug == "gold"
    assert "Free flat white" in client.get(url).content.decode()


def test_refusals_are_shown_on_the_form(client, staff):
    perk = PerkFactory.create(merchant=staff.merchant)
    url = reverse("portal:campaigns", args=[staff.merchant.slug])

    no_audience = client.post(url, {"perk": perk.ref, "min_tier": "", "min_score": ""})
    low_score = client.post(url, {"perk": perk.ref, "min_tier": "", "min_score": "20"})
    other_perk = client.post(url, {"perk": PerkFactory.create().ref, "min_tier": "gold"})

    assert no_audience.status_code == 200
    assert "Name the audience" in no_audience.content.decode()
    assert low_score.context["form"].errors["min_score"]
    assert other_perk.context["form"].errors["perk"]  # not one of this merchant's perks to choose
    assert not Campaign.objects.exists()


def test_a_cashier_sees_campaigns_without_the_form_and_cannot_start_one(client):
    staff = StaffFactory.create(role=Role.CASHIER)
    client.force_login(staff.user)
    perk = PerkFactory.create(merchant=staff.merchant)
    url = reverse("portal:campaigns", args=[staff.merchant.slug])

    assert "New campaign" not in client.get(url).content.decode()
    response = client.post(url, {"perk": perk.ref, "min_tier": "gold"})
    assert "may not" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_progress_fragment_polls_while_running_and_stops_when_done(client, staff):
    perk = PerkFactory.create(merchant=staff.merchant)
    members_in("gold", 4)
    campaign = started(staff, perk, min_tier="gold")
    url = reverse("portal:campaign-progress", args=[staff.merchant.slug, campaign.ref])
    first, second = campaign_plan(campaign_id=campaign.pk, chunk_size=2)
    campaign_chunk_issue(chunk_id=first)

    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in running
    assert 'value="50"' in running

    campaign_chunk_issue(chunk_id=second)
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done
    assert 'value="100"' in done
    page = client.get(reverse("portal:campaign", args=[staff.merchant.slug, campaign.ref])).content.decode()
    assert "4 issued, 0 skipped of 4 members" in page


def test_the_codes_download_as_csv_naming_only_linked_members(client, staff):
    perk = PerkFactory.create(merchant=staff.merchant)
    regular, stranger = members_in("gold", 2)
    linked(regular, staff.merchant)
    campaign = started(staff, perk, min_tier="gold")
    for chunk_id in campaign_plan(campaign_id=campaign.pk):
        campaign_chunk_issue(chunk_id=chunk_id)

    response = client.get(reverse("portal:campaign-codes", args=[staff.merchant.slug, campaign.ref]))

    assert response["Content-Type"] == "text/csv"
    mine, theirs = (Voucher.objects.get(campaign=campaign, member=m) for m in (regular, stranger))
    body = b"".join(response.streaming_content).decode()
    assert sorted(body.splitlines()) == sorted(
        [
            "code,member,status",
            f"{code_format(mine.code)},{regular.ref},issued",
            f"{code_format(theirs.code)},,issued",
        ]
    )
    assert stranger.ref not in body


def test_another_merchants_campaign_is_not_found(client, staff):
    other = StaffFactory.create(merchant=MerchantFactory.create(), role=Role.OWNER)
    theirs = started(other, PerkFactory.create(merchant=other.merchant), min_score=600)

    for name in ("portal:campaign", "portal:campaign-progress", "portal:campaign-codes"):
        assert client.get(reverse(name, args=[staff.merchant.slug, theirs.ref])).status_code == 404
        assert client.get(reverse(name, args=[other.merchant.slug, theirs.ref])).status_code == 404
