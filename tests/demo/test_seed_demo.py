import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from loyalty.members.models import Consent, ConsentChange, Member, MerchantLink
from loyalty.members.selectors import member_linked_by_ref
from loyalty.scoring.models import DIMENSION_BITS, AppealStatus, Hold, HoldStatus, MemberStanding, Tier
from loyalty.scoring.selectors import score_explanation
from perks.merchants.models import Merchant
from perks.vouchers.models import Campaign, CampaignStatus, Voucher

pytestmark = pytest.mark.django_db

# Sign-in is counted per request (django-axes), so authenticate() is given one.
SIGN_IN = RequestFactory().post("/app/login/")


@pytest.fixture
def manifest(tmp_path):
    output = tmp_path / "demo.json"
    call_command("seed_demo", "--output", str(output))
    return json.loads(output.read_text())


def test_seed_demo_writes_a_manifest_whose_logins_work(manifest):
    assert set(manifest) == {"base_url_hint", "merchants", "members", "operator"}
    operator = manifest["operator"]
    user = authenticate(SIGN_IN, username=operator["email"], password=operator["password"])
    assert user is not None
    assert user.is_superuser


def test_seed_demo_refuses_a_database_that_is_not_empty(tmp_path):
    call_command("seed_demo", "--output", str(tmp_path / "first.json"))

    with pytest.raises(CommandError, match="not empty"):
        call_command("seed_demo", "--output", str(tmp_path / "second.json"))


def test_reuse_keeps_the_first_demo_and_its_logins(tmp_path):
    output = tmp_path / "demo.json"
    call_command("seed_demo", "--output", str(output))
    first = output.read_text()

    call_command("seed_demo", "--output", str(output), "--reuse")

    assert output.read_text() == first


def test_there_is_a_member_in_every_tier_whose_login_score_and_tier_are_as_listed(manifest):
    entries = manifest["members"]

    assert {entry["tier"] for entry in entries} == set(Tier.objects.values_list("slug", flat=True))
    for entry in entries:
        assert set(entry) == {"ref", "email", "password", "score", "tier"}
        assert authenticate(SIGN_IN, username=entry["email"], password=entry["password"]) is not None
        standing = MemberStanding.objects.select_related("tier").get(member__ref=entry["ref"])
        assert (standing.score, standing.tier.slug) == (entry["score"], entry["tier"])


def test_the_demo_members_scores_are_explained_by_their_histories(manifest):
    for entry in manifest["members"]:
        member = Member.objects.get(ref=entry["ref"])
        explanation = score_explanation(member=member)
        assert explanation is not None
        assert explanation.score == entry["score"]
        assert explanation.reasons
        if entry["score"] != 500:
            assert member.score_events.exists()


def test_the_demo_shows_consents_in_various_states_a_pending_downgrade_and_a_hold_under_appeal(manifest):
    assert Consent.objects.filter(granted=True).exists()
    assert Consent.objects.filter(granted=False).exists()
    assert ConsentChange.objects.filter(granted=False).exists()
    assert MemberStanding.objects.filter(below_band_since__isnull=False).exists()
    hold = Hold.objects.get(status=HoldStatus.ACTIVE)
    assert hold.appeals.filter(status=AppealStatus.OPEN).count() == 1
    assert hold.member.ref in {entry["ref"] for entry in manifest["members"]}


def test_every_listed_member_is_linked_with_every_listed_merchant(manifest):
    """They are regulars everywhere, so the guide's calls by member ref work with any demo key."""
    merchants = Merchant.objects.filter(slug__in=[entry["slug"] for entry in manifest["merchants"]])
    assert merchants.count() == len(manifest["merchants"]) >= 2
    for entry in manifest["members"]:
        for merchant in merchants:
            assert member_linked_by_ref(ref=entry["ref"], merchant_ref=merchant.ref).ref == entry["ref"]


def test_synthetic_members_are_added_in_bulk_over_every_tier_and_left_out_of_the_manifest(tmp_path):
    output = tmp_path / "demo.json"

    call_command("seed_demo", "--output", str(output), "--members", "300")

    written = json.loads(output.read_text())
    listed = {entry["ref"] for entry in written["members"]}
    synthetic = MemberStanding.objects.exclude(member__ref__in=listed)
    assert synthetic.count() == 300
    synthetic_refs = set(synthetic.values_list("member__ref", flat=True))
    assert len(written["synthetic"]) == len(set(written["synthetic"])) == 100
    assert set(written["synthetic"]) <= synthetic_refs
    assert set(written) == {"base_url_hint", "merchants", "members", "operator", "synthetic"}
    # Linked to no merchant: no key may name them by ref.
    assert not MerchantLink.objects.filter(member__ref__in=synthetic_refs).exists()
    assert MerchantLink.objects.filter(member__ref__in=listed).count() == len(listed) * len(
        written["merchants"]
    )
    assert set(synthetic.values_list("tier__slug", flat=True)) == set(
        Tier.objects.values_list("slug", flat=True)
    )
    for standing in synthetic.select_related("tier")[:50]:
        assert standing.tier.min_score <= standing.score <= standing.tier.max_score
        shared = set(
            Consent.objects.filter(member_id=standing.member_id, granted=True).values_list(
                "dimension", flat=True
            )
        )
        assert standing.shared_dimensions == sum(DIMENSION_BITS[dimension] for dimension in shared)
    assert not synthetic.filter(member__user__password__startswith="pbkdf2").exists()


def test_the_demo_has_a_finished_campaign_with_a_voucher_for_each_member_it_reached(manifest):
    (campaign,) = Campaign.objects.all()
    assert campaign.status == CampaignStatus.DONE
    assert campaign.issued > 0
    assert campaign.total == campaign.issued + campaign.skipped
    assert Voucher.objects.filter(campaign=campaign).count() == campaign.issued
