"""Perks in the portal: a form per type that keeps the API's rules and words, Chinese text,
the image through the images pipeline, who qualifies now, and changes of state confirmed."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from loyalty.core.errors import Invalid
from loyalty.members.models import Member
from loyalty.scoring.models import HoldCategory, MemberStanding, Tier
from loyalty.scoring.services.holds import hold_lift
from perks.catalog.eligibility import STANDINGS_COUNT_KEY, perk_qualifying_count, perk_refusal
from perks.catalog.models import Perk, PerkStatus, PerkType
from perks.catalog.params import params_parse
from perks.merchants.models import AuditEntry
from perks.merchants.permissions import Role
from tests.factories import HoldFactory, JoinedMemberFactory, PerkFactory, StaffFactory
from tests.surfaces.api.conftest import partner_of

pytestmark = pytest.mark.django_db

# One perk of each type as a person fills the form in, and its params as the API stores them.
TYPES = {
    PerkType.DEPOSIT_WAIVER: (
        {"param_max_amount": "5000.00", "param_currency": "cny"},
        {"max_amount": "5000.00", "currency": "CNY"},
    ),
    PerkType.FX_MARGIN: (
        {"param_margin_reduction_bps": "50", "param_currencies": "usd, EUR"},
        {"margin_reduction_bps": 50, "currencies": ["EUR", "USD"]},
    ),
    PerkType.ACCESS_PASS: (
        {"param_venue": "T2 lounge", "param_kind": "lounge", "param_entries_per_voucher": "2"},
        {"venue": "T2 lounge", "kind": "lounge", "entries_per_voucher": 2},
    ),
    PerkType.FREE_ITEM: (
        {"param_item": "Flat white", "param_max_value": "", "param_currency": ""},
        {"item": "Flat white"},
    ),
    PerkType.DISCOUNT: (
        {
            "param_percent": "15",
            "param_currency": "CNY",
            "param_min_spend": "100",
            "param_max_discount": "30",
        },
        {"percent": "15", "currency": "CNY", "min_spend": "100.00", "max_discount": "30.00"},
    ),
}


@pytest.fixture(autouse=True)
def _standings_counted_afresh():
    """Who qualifies reads every standing at most once in a while: each test starts afresh."""
    cache.delete(STANDINGS_COUNT_KEY)


@pytest.fixture
def owner_staff(client):
    staff = StaffFactory.create(role=Role.OWNER)
    client.force_login(staff.user)
    return staff


def _form(perk_type, **fields):
    """What the form posts for a new perk: the defaults a person leaves as they are, and `fields`."""
    data = {
        "type": perk_type,
        "title": "A perk",
        "points_cost": "0",
        "voucher_ttl_days": "30",
        "limit_period": "lifetime",
        "status": PerkStatus.DRAFT,
    }
    return {**data, **fields}


def _png(width=64, height=36):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile("coffee.png", buffer.getvalue(), content_type="image/png")


def _create_url(staff):
    return reverse("portal:perk-create", args=[staff.merchant.slug])


@pytest.mark.parametrize("perk_type", list(TYPES))
def test_the_form_of_each_type_creates_a_perk_the_api_would(client, owner_staff, perk_type):
    typed, stored = TYPES[perk_type]

    response = client.post(_create_url(owner_staff), _form(perk_type, title="For members", **typed))

    perk = Perk.objects.get(merchant=owner_staff.merchant)
    assert response["Location"] == reverse("portal:perk", args=[owner_staff.merchant.slug, perk.ref])
    assert (perk.type, perk.params, perk.status) == (perk_type, stored, PerkStatus.DRAFT)
    entry = AuditEntry.objects.get(action="perk.created", target=perk.ref)
    assert entry.actor_user == owner_staff.user


def test_the_form_shows_the_chosen_types_fields_and_swaps_them_with_htmx(client, owner_staff):
    url = _create_url(owner_staff)

    first = client.get(url).content.decode()
    swapped = client.get(url, {"type": PerkType.DISCOUNT}, headers={"HX-Request": "true"}).content.decode()

    assert 'name="param_item"' in first
    assert 'name="param_percent"' not in first
    assert 'id="perk-params"' in swapped
    assert 'name="param_percent"' in swapped
    assert 'name="param_item"' not in swapped


def test_without_script_showing_a_types_fields_keeps_what_was_typed_and_creates_nothing(client, owner_staff):
    response = client.post(
        _create_url(owner_staff),
        _form(PerkType.ACCESS_PASS, title="Lounge for members", show_fields="1"),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="param_venue"' in page
    assert 'value="Lounge for members"' in page
    assert not Perk.objects.exists()


def test_a_parameter_refused_shows_the_apis_own_message_next_to_its_field(client, owner_staff):
    api = partner_of(owner_staff.merchant).post(
        "/perks",
        {
            "type": "deposit_waiver",
            "title": "No deposit",
            "params": {"max_amount": "12.345", "currency": "CNY"},
        },
    )

    response = client.post(
        _create_url(owner_staff),
        _form(PerkType.DEPOSIT_WAIVER, param_max_amount="12.345", param_currency="CNY"),
    )

    message = api.json()["error"]["message"]
    assert message == "CNY amounts have at most 2 decimals."
    assert response.status_code == 400
    assert response.context["form"].errors == {"param_max_amount": [message]}
    assert not Perk.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "raw"),
    [
        ({"param_item": ""}, "param_item", {}),
        ({"param_item": "Tea", "param_max_value": "5"}, "param_currency", {"item": "Tea", "max_value": "5"}),
    ],
)
def test_a_missing_parameter_is_named_as_the_params_rules_name_it(client, owner_staff, fields, field, raw):
    response = client.post(_create_url(owner_staff), _form(PerkType.FREE_ITEM, **fields))

    with pytest.raises(Invalid) as refused:
        params_parse(PerkType.FREE_ITEM, raw)
    assert response.context["form"].errors[field] == [refused.value.message]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"min_score": "high"}, "min_score", "min_score is a whole number from 350 to 950."),
        (
            {"min_tier": "gold", "min_score": "600"},
            "min_score",
            "Set a minimum tier or a minimum score, not both.",
        ),
        ({"title": ""}, "title", "title is required."),
        (
            {"voucher_ttl_days": "0"},
            "voucher_ttl_days",
            "voucher_ttl_days is a whole number from 1 to 3,650.",
        ),
        (
            {"auto_issue": "on"},
            "auto_issue",
            "Auto-issue sends the perk to members reaching a tier: set min_tier.",
        ),
    ],
)
def test_the_perks_own_rules_speak_next_to_their_fields(client, owner_staff, fields, field, message):
    response = client.post(_create_url(owner_staff), _form(PerkType.FREE_ITEM, param_item="Tea", **fields))

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()


def test_the_chinese_title_and_description_are_saved_and_shown(client, owner_staff):
    client.post(
        _create_url(owner_staff),
        _form(
            PerkType.FREE_ITEM,
            param_item="Flat white",
            title="Free flat white",
            title_zh="免费馥芮白",
            description="One a day.",
            description_zh="每天一杯。",
        ),
    )

    perk = Perk.objects.get(merchant=owner_staff.merchant)
    assert (perk.title_zh, perk.description_zh) == ("免费馥芮白", "每天一杯。")
    page = client.get(reverse("portal:perk", args=[owner_staff.merchant.slug, perk.ref])).content.decode()
    assert "免费馥芮白" in page
    assert "每天一杯。" in page


def test_an_uploaded_image_is_stored_cleaned_and_shown(client, owner_staff, media):
    client.post(
        _create_url(owner_staff),
        _form(PerkType.FREE_ITEM, param_item="Flat white", image=_png()),
    )

    perk = Perk.objects.get(merchant=owner_staff.merchant)
    assert perk.image.name.startswith(f"perks/{perk.ref}/")
    assert default_storage.exists(perk.image.name)
    with default_storage.open(perk.image.name) as stored, Image.open(stored) as image:
        assert image.size == (64, 36)
    assert AuditEntry.objects.filter(action="perk.image_set", target=perk.ref).exists()
    slug = owner_staff.merchant.slug
    for page in ("portal:perk", "portal:perk-edit"):
        assert perk.image.name in client.get(reverse(page, args=[slug, perk.ref])).content.decode()
    assert perk.image.name in client.get(reverse("portal:perks", args=[slug])).content.decode()


def test_a_file_that_is_no_image_is_refused_and_the_perk_kept_to_try_again(client, owner_staff, media):
    not_an_image = SimpleUploadedFile("coffee.png", b"hello, world", content_type="image/png")

    response = client.post(
        _create_url(owner_staff), _form(PerkType.FREE_ITEM, param_item="Tea", image=not_an_image)
    )

    perk = Perk.objects.get(merchant=owner_staff.merchant)
    assert response["Location"] == reverse("portal:perk-edit", args=[owner_staff.merchant.slug, perk.ref])
    assert not perk.image
    shown = client.get(response["Location"]).content.decode()
    assert "The perk is saved, but not its image: This file is not a PNG, JPEG or WebP image." in shown


def _as_shown(client, url):
    """The edit form's values as the browser would send them back untouched."""
    form = client.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["valid_from"] = form["valid_from"].value().strftime("%Y-%m-%dT%H:%M")
    if not data.pop("auto_issue"):
        return data
    return {**data, "auto_issue": "on"}


def test_editing_changes_what_moved_and_audits_only_that(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, title="Tea", params={"item": "Tea"})
    url = reverse("portal:perk-edit", args=[owner_staff.merchant.slug, perk.ref])

    response = client.post(url, {**_as_shown(client, url), "title": "Green tea", "param_item": "Green tea"})

    assert response.status_code == 302, response.context["form"].errors
    perk.refresh_from_db()
    assert (perk.title, perk.params) == ("Green tea", {"item": "Green tea"})
    entry = AuditEntry.objects.get(action="perk.updated", target=perk.ref)
    assert set(entry.params) == {"title", "params"}


def test_an_edit_refused_keeps_the_perk_as_it_was(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, params={"item": "Tea"})
    url = reverse("portal:perk-edit", args=[owner_staff.merchant.slug, perk.ref])

    response = client.post(url, {**_as_shown(client, url), "points_cost": "-5"})

    assert response.context["form"].errors["points_cost"] == [
        "points_cost is a whole number from 0 to 10,000,000."
    ]
    perk.refresh_from_db()
    assert perk.points_cost == 0


# --- Who qualifies now -------------------------------------------------------------------


def _member_at(slug, score):
    member = JoinedMemberFactory.create()
    MemberStanding.objects.filter(member=member).update(tier=Tier.objects.get(slug=slug), score=score)
    return member


def _hold(member, perk, **fields):
    merchant = perk.merchant
    fields = {"category": perk.type, **fields}
    return HoldFactory.create(member=member, merchant_ref=merchant.ref, merchant_name=merchant.name, **fields)


def test_who_qualifies_counts_members_by_tier_and_leaves_out_those_held(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, min_tier=Tier.objects.get(slug="gold"))
    _member_at("silver", 580)
    _member_at("gold", 610)
    _member_at("gold", 640)
    _member_at("diamond", 800)
    _hold(_member_at("platinum", 660), perk)
    other_merchants = PerkFactory.create()
    _hold(_member_at("platinum", 670), other_merchants)  # another merchant's hold is not ours
    _hold(_member_at("diamond", 720), perk, category=HoldCategory.DEPOSIT_WAIVER)  # other perks held

    qualifying = perk_qualifying_count(perk=perk)

    counts = {row.tier.slug: row.members for row in qualifying.by_tier}
    assert counts == {"starter": 0, "silver": 0, "gold": 2, "platinum": 1, "diamond": 2}
    assert (qualifying.total, qualifying.held) == (5, 1)
    page = client.get(reverse("portal:perk", args=[owner_staff.merchant.slug, perk.ref])).content.decode()
    assert "5 members meet this perk's minimum today" in page
    assert "Not counted: 1 member who would qualify but is under a hold of yours." in page


def test_who_qualifies_by_score_and_days_without_a_hold_agrees_with_each_members_check(owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, min_score=600, hold_free_days=30)
    members = [_member_at(slug, score) for slug, score in [("silver", 599), ("gold", 600), ("gold", 630)]]
    members += [_member_at("platinum", 690), _member_at("diamond", 900), _member_at("gold", 612)]
    _hold(members[3], perk)
    lifted = _hold(members[4], perk)
    hold_lift(hold=lifted, merchant_ref=owner_staff.merchant.ref)  # lifted, yet within 30 days
    # Below its band but not yet moved down: the score, not the tier, decides a min_score perk.
    MemberStanding.objects.filter(member=members[5]).update(tier=Tier.objects.get(slug="platinum"))

    qualifying = perk_qualifying_count(perk=perk)

    one_by_one = [member for member in members if perk_refusal(perk=perk, member=member) is None]
    assert qualifying.total == len(one_by_one) == 3
    assert qualifying.held == 2
    assert {row.tier.slug: row.members for row in qualifying.by_tier if row.members} == {
        "gold": 2,
        "platinum": 1,
    }


def test_a_member_erased_is_not_counted(owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant)
    member = _member_at("gold", 610)
    total = perk_qualifying_count(perk=perk).total
    Member.objects.filter(pk=member.pk).update(erased_at=timezone.now())
    cache.delete(STANDINGS_COUNT_KEY)

    assert perk_qualifying_count(perk=perk).total == total - 1


def test_standings_are_counted_once_in_a_while_and_holds_every_time(owner_staff, django_assert_num_queries):
    perk = PerkFactory.create(merchant=owner_staff.merchant, min_tier=Tier.objects.get(slug="gold"))
    held = _member_at("gold", 610)
    perk_qualifying_count(perk=perk)
    _member_at("gold", 620)  # joins after the count: counted when it is next read
    _hold(held, perk)

    with django_assert_num_queries(2):  # the tiers, and the members held
        later = perk_qualifying_count(perk=perk)

    assert (later.total, later.held) == (0, 1)
    cache.delete(STANDINGS_COUNT_KEY)
    assert perk_qualifying_count(perk=perk).total == 1


# --- Changes of state, confirmed ----------------------------------------------------------


def _status_url(perk, to=None):
    url = reverse("portal:perk-status", args=[perk.merchant.slug, perk.ref])
    return f"{url}?to={to}" if to else url


def test_the_perk_page_offers_the_actions_its_state_allows(client, owner_staff):
    draft = PerkFactory.create(merchant=owner_staff.merchant, status=PerkStatus.DRAFT)
    active = PerkFactory.create(merchant=owner_staff.merchant)
    paused = PerkFactory.create(merchant=owner_staff.merchant, status=PerkStatus.PAUSED)
    archived = PerkFactory.create(merchant=owner_staff.merchant, status=PerkStatus.ARCHIVED)

    def offered(perk):
        return [str(action.label) for action in client.get(_perk_url(perk)).context["actions"]]

    assert offered(draft) == ["Publish", "Archive…"]
    assert offered(active) == ["Pause", "Archive…"]
    assert offered(paused) == ["Resume", "Archive…"]
    assert offered(archived) == []
    assert _status_url(active, "paused") in client.get(_perk_url(active)).content.decode().replace(
        "&amp;", "&"
    )


def _perk_url(perk):
    return reverse("portal:perk", args=[perk.merchant.slug, perk.ref])


def test_pausing_asks_first_says_what_it_does_and_then_pauses(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant)

    asked = client.get(_status_url(perk, PerkStatus.PAUSED))
    perk.refresh_from_db()
    assert perk.status == PerkStatus.ACTIVE
    page = asked.content.decode()
    assert "Pause this perk?" in page
    assert "Vouchers they already hold cannot be redeemed while it is paused" in page

    done = client.post(_status_url(perk), {"to": PerkStatus.PAUSED})

    perk.refresh_from_db()
    assert perk.status == PerkStatus.PAUSED
    assert done["Location"] == _perk_url(perk)
    entry = AuditEntry.objects.get(action="perk.status_changed", target=perk.ref)
    assert entry.params == {"from": "active", "to": "paused"}


def test_archiving_refuses_a_title_typed_wrong_and_archives_on_the_right_one(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, title="Free flat white")

    asked = client.get(_status_url(perk, PerkStatus.ARCHIVED)).content.decode()
    wrong = client.post(_status_url(perk), {"to": PerkStatus.ARCHIVED, "title": "Free flat"})
    perk.refresh_from_db()

    assert "This cannot be undone." in asked
    assert "Type the perk&#x27;s title to confirm" in asked
    assert wrong.status_code == 400
    assert "That is not this perk&#x27;s title. Type Free flat white exactly" in wrong.content.decode()
    assert perk.status == PerkStatus.ACTIVE

    client.post(_status_url(perk), {"to": PerkStatus.ARCHIVED, "title": " Free flat white "})
    perk.refresh_from_db()
    assert perk.status == PerkStatus.ARCHIVED


def test_a_move_the_state_does_not_allow_is_refused_in_the_services_words(client, owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant, status=PerkStatus.ARCHIVED)

    response = client.post(_status_url(perk), {"to": PerkStatus.ACTIVE}, follow=True)

    perk.refresh_from_db()
    assert perk.status == PerkStatus.ARCHIVED
    assert "A perk that is archived cannot become active." in response.content.decode()


def test_a_cashier_reads_a_perk_but_is_offered_no_change(client):
    cashier = StaffFactory.create(role=Role.CASHIER)
    client.force_login(cashier.user)
    perk = PerkFactory.create(merchant=cashier.merchant)

    page = client.get(_perk_url(perk))
    listing = client.get(reverse("portal:perks", args=[cashier.merchant.slug])).content.decode()

    assert page.status_code == 200
    assert page.context["actions"] == []
    assert reverse("portal:perk-edit", args=[cashier.merchant.slug, perk.ref]) not in page.content.decode()
    assert _create_url(cashier) not in listing
    assert client.get(_create_url(cashier)).status_code == 403
    assert client.post(_status_url(perk), {"to": PerkStatus.PAUSED}).status_code == 403


def test_the_empty_list_says_how_to_start(client, owner_staff):
    page = client.get(reverse("portal:perks", args=[owner_staff.merchant.slug])).content.decode()

    assert "No perks yet." in page
    assert _create_url(owner_staff) in page


def test_the_list_is_paged_and_shows_only_this_merchants_perks(client, owner_staff):
    for n in range(26):
        PerkFactory.create(merchant=owner_staff.merchant, title=f"Mine {n}")
    PerkFactory.create(title="Someone else's")
    url = reverse("portal:perks", args=[owner_staff.merchant.slug])

    first, second = client.get(url).content.decode(), client.get(url, {"page": 2}).content.decode()

    assert "Page 1 of 2" in first
    assert "Mine 25" in first
    assert "Mine 0<" in second
    assert "Someone else" not in first + second


def test_another_merchants_perk_is_not_found(client, owner_staff):
    theirs = PerkFactory.create(valid_from=timezone.now() - timedelta(days=1))
    slug = owner_staff.merchant.slug

    for name in ("portal:perk", "portal:perk-edit", "portal:perk-status"):
        assert client.get(reverse(name, args=[slug, theirs.ref])).status_code == 404


def test_counts_kept_from_tiers_since_replaced_are_counted_again(owner_staff):
    perk = PerkFactory.create(merchant=owner_staff.merchant)
    _member_at("gold", 610)
    fresh = perk_qualifying_count(perk=perk).total
    gone = Tier.objects.order_by("-pk")[0].pk + 1
    cache.set(STANDINGS_COUNT_KEY, ([(gone, 610, 1000)], timezone.now()))

    assert perk_qualifying_count(perk=perk).total == fresh
