"""The Score page: the gauge's geometry, how far the next tier is, a pending downgrade, what
would raise the score and where to do it, and the year's history from the snapshots."""

import math
import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.members.models import Dimension, Locale, Member
from loyalty.members.services import consent_set
from loyalty.points.services import points_adjust
from loyalty.scoring.models import MemberStanding, RecomputeCause, ScoreSnapshot, Tier
from loyalty.scoring.selectors import score_by_month, sharing_gain_ceiling
from loyalty.scoring.services import ScoreEventInput, score_events_record, score_recompute, standing_create
from surfaces.app import gauge
from surfaces.app.templatetags.app_format import day
from tests.factories import MERCHANT_REF, HoldFactory, JoinedMemberFactory, MemberFactory, UserFactory
from tests.support.browser import screenshot, sign_in

PASSWORD = "correct horse battery staple"
DEFAULT_BANDS = [
    gauge.Band("Starter", 350, 549),
    gauge.Band("Silver", 550, 599),
    gauge.Band("Gold", 600, 649),
    gauge.Band("Platinum", 650, 699),
    gauge.Band("Diamond", 700, 950),
]


def _close(point: gauge.Point, x: float, y: float) -> bool:
    return math.isclose(point.x, x, abs_tol=1e-9) and math.isclose(point.y, y, abs_tol=1e-9)


def _ends(path: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """The start and end of an SVG arc path written by gauge.arc_path."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def _rounded(point: gauge.Point) -> tuple[float, float]:
    return float(point.sx), float(point.sy)


# The gauge, as geometry.


def test_the_marker_is_at_the_left_end_at_350_the_top_at_650_and_the_right_end_at_950():
    centre_x, centre_y, radius = gauge.CENTRE_X, gauge.CENTRE_Y, gauge.RADIUS

    assert _close(gauge.point_at(350), centre_x - radius, centre_y)
    assert _close(gauge.point_at(650), centre_x, centre_y - radius)
    assert _close(gauge.point_at(950), centre_x + radius, centre_y)
    assert gauge.gauge(350, DEFAULT_BANDS).marker == gauge.point_at(350)
    assert gauge.gauge(950, DEFAULT_BANDS).marker == gauge.point_at(950)


def test_the_marker_moves_clockwise_as_the_score_rises_and_stops_at_the_ends():
    xs = [gauge.point_at(score).x for score in range(350, 951, 25)]

    assert xs == sorted(xs)
    assert len(set(xs)) == len(xs)
    assert gauge.point_at(300) == gauge.point_at(350)
    assert gauge.point_at(1000) == gauge.point_at(950)


def test_each_band_runs_from_its_lowest_score_to_where_the_next_band_starts():
    segments = gauge.gauge(712, DEFAULT_BANDS).segments

    assert [segment.band for segment in segments] == DEFAULT_BANDS
    for segment, following in zip(segments, [*DEFAULT_BANDS[1:], None], strict=True):
        start, end = _ends(segment.path)
        assert start == _rounded(gauge.point_at(segment.band.low))
        assert end == _rounded(gauge.point_at(following.low if following else 950))
    assert _ends(segments[0].path)[0] == _rounded(gauge.point_at(350))
    assert _ends(segments[-1].path)[1] == _rounded(gauge.point_at(950))
    # Silver, 550-599, is a twelfth of the scale: 15 degrees of the half turn.
    assert math.isclose(gauge.angle_of(550) - gauge.angle_of(600), math.pi / 12)


def test_band_tones_run_from_the_lowest_band_to_the_highest_and_the_members_band_is_marked():
    segments = gauge.gauge(712, DEFAULT_BANDS, current=4).segments

    assert [segment.tone for segment in segments] == [0, 1, 2, 3, 4]
    assert [segment.current for segment in segments] == [False, False, False, False, True]
    assert [gauge.tone_of(position, 3) for position in range(3)] == [0, 2, 4]
    assert gauge.tone_of(0, 1) == gauge.TONES - 1


def test_the_sparkline_places_scores_by_time_and_height():
    start = datetime(2026, 1, 1)
    line = gauge.sparkline(
        [(start, 640), (start + timedelta(days=182), 700), (start + timedelta(days=364), 712)],
        start,
        start + timedelta(days=364),
    )

    first, middle, last = line.points
    assert first.x == gauge.SPARK_PAD
    assert last.x == gauge.SPARK_WIDTH - gauge.SPARK_PAD
    assert first.x < middle.x < last.x
    assert first.y == gauge.SPARK_HEIGHT - gauge.SPARK_PAD  # the lowest score at the bottom
    assert last.y == gauge.SPARK_PAD  # the highest at the top
    assert line.polyline.count(",") == 3


def test_a_flat_history_is_a_level_line_across_the_middle():
    start = datetime(2026, 1, 1)
    line = gauge.sparkline(
        [(start, 500), (start + timedelta(days=30), 500)], start, start + timedelta(days=60)
    )

    assert {point.y for point in line.points} == {gauge.SPARK_HEIGHT / 2}


# The page.


@pytest.fixture
def member(db):
    return JoinedMemberFactory.create()


def _page(client) -> str:
    response = client.get(reverse("app:home"))
    assert response.status_code == 200
    return response.content.decode()


def _stand(member, *, score: int, tier: str, below_band_since: datetime | None = None) -> None:
    MemberStanding.objects.filter(member=member).update(
        score=score, tier=Tier.objects.get(slug=tier), below_band_since=below_band_since
    )


def _snapshot(member, *, score: int, at: datetime) -> ScoreSnapshot:
    return ScoreSnapshot.objects.create(
        member=member,
        computed_at=at,
        cause=RecomputeCause.NIGHTLY,
        engine_version=1,
        score=score,
        tier=Tier.objects.get(min_score__lte=score, max_score__gte=score),
    )


def _days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def _joined_long_ago(client) -> Member:
    """A signed-in member whose only snapshot is older than the history's year (snapshots
    are append-only: the database refuses to move or delete one)."""
    member = MemberFactory.create()
    standing_create(member=member, now=_days_ago(400))
    client.force_login(member.user)
    return member


def test_the_gauge_names_the_score_and_tier_and_the_page_says_how_far_the_next_tier_is(signed_in, member):
    _stand(member, score=712, tier="diamond")
    page = _page(signed_in)
    assert 'role="img" aria-label="Score 712 of 950, tier Diamond"' in page
    assert "You are in the top tier." in page

    _stand(member, score=562, tier="silver")
    page = _page(signed_in)
    assert "38 points to Gold" in page
    assert 'class="gauge-band tone-1 current"' in page

    _stand(member, score=599, tier="silver")
    assert "1 point to Gold" in _page(signed_in)


def test_a_pending_downgrade_shows_its_date_and_the_tier_it_would_move_to(signed_in, member, settings):
    since = _days_ago(10)
    _stand(member, score=580, tier="gold", below_band_since=since)
    page = _page(signed_in)

    on = day(since + timedelta(days=settings.TIER_DOWNGRADE_GRACE_DAYS))
    assert f"Your score is 20 points below Gold. If it has not recovered by {on}, you move to Silver" in page

    _stand(member, score=612, tier="gold")
    assert "below Gold" not in _page(signed_in)


def test_history_is_the_last_snapshot_of_each_of_the_last_twelve_months(db):
    member = MemberFactory.create()
    now = timezone.make_aware(datetime(2026, 12, 7, 12))
    _snapshot(member, score=600, at=timezone.make_aware(datetime(2025, 12, 31, 23)))  # thirteen months back
    for month in range(1, 13):
        _snapshot(member, score=600 + month, at=timezone.make_aware(datetime(2026, month, 2)))
        _snapshot(member, score=650 + month, at=timezone.make_aware(datetime(2026, month, 20)))

    months = score_by_month(member=member, now=now)

    assert [(m.at.month, m.score) for m in months] == [(month, 650 + month) for month in range(1, 13)]
    assert score_by_month(member=member, months=3, now=now)[0].score == 660


def test_the_sparkline_and_its_summary_come_from_the_snapshots(client, db):
    member = _joined_long_ago(client)
    first_at, last_at = _days_ago(300), _days_ago(1)
    _snapshot(member, score=640, at=first_at)
    _snapshot(member, score=680, at=_days_ago(150))
    _snapshot(member, score=712, at=last_at)

    response = client.get(reverse("app:home"))

    history = response.context["history"]
    months = score_by_month(member=member)
    assert len(history.sparkline.points) == len(months) >= 3
    page = response.content.decode()
    assert f'points="{history.sparkline.polyline}"' in page
    assert f"From 640 on {day(first_at)} to 712 on {day(last_at)}." in page
    assert "Up 72 points." in page


def test_a_new_members_history_starts_with_one_score_and_without_a_line(signed_in, member):
    page = _page(signed_in)

    assert "Your history starts here: 500 on" in page
    assert "<polyline" not in page


def test_without_a_score_in_the_last_year_the_history_says_so(client, db):
    _joined_long_ago(client)

    page = _page(client)

    assert "No score in the last 12 months yet." in page


def test_suggestions_come_from_the_explanation_and_link_to_where_the_member_acts(signed_in, member):
    consent_set(member=member, dimension=Dimension.PAYMENT_HISTORY, granted=True, source="app")
    events = [ScoreEventInput(f"e{n}", member.pk, "payment_missed", _days_ago(10 * n + 1)) for n in range(3)]
    score_events_record(source=MERCHANT_REF, events=events)
    score_recompute(member_ids=[member.pk])
    hold = HoldFactory.create(member=member, lift_condition="Pay invoice INV-88 at any Swift branch.")

    response = signed_in.get(reverse("app:home"))

    suggestions = response.context["suggestions"]
    by_kind = {kind: [s for s in suggestions if s.kind == kind] for kind in ("share", "dispute", "hold")}
    assert [s.url for s in by_kind["dispute"]] == [reverse("app:events")]
    payment = next(
        c for c in response.context["explanation"].contributions if c.dimension == "payment_history"
    )
    assert by_kind["dispute"][0].points == -payment.points > 0
    assert {s.label for s in by_kind["share"]} == {
        "fulfilment",
        "tenure and activity",
        "identity verification",
        "declared assets",
    }
    assert {s.url for s in by_kind["share"]} == {reverse("app:consents")}
    fulfilment = next(s for s in by_kind["share"] if s.label == "fulfilment")
    assert fulfilment.points == sharing_gain_ceiling(engine_version=1, dimension="fulfilment") > 0
    assert [s.points for s in suggestions if s.kind != "hold"] == sorted(
        (s.points for s in suggestions if s.kind != "hold"), reverse=True
    )
    assert [(s.url, s.text) for s in by_kind["hold"]] == [(reverse("app:holds"), hold.lift_condition)]
    page = response.content.decode()
    assert f'href="{reverse("app:events")}"' in page
    assert f"Your payment history data takes about {-payment.points} points off." in page
    assert "Share your fulfilment data: up to +" in page


def test_a_member_who_shares_everything_with_nothing_against_them_has_nothing_to_do(signed_in, member):
    for dimension in Dimension.values:
        consent_set(member=member, dimension=dimension, granted=True, source="app")
    score_recompute(member_ids=[member.pk])

    response = signed_in.get(reverse("app:home"))

    assert response.context["suggestions"] == []
    assert "You share every kind of data and none of it lowers your score" in response.content.decode()


def test_holds_in_force_are_a_banner_that_leads_to_holds(signed_in, member):
    assert "perks is on hold" not in _page(signed_in)
    HoldFactory.create(member=member)
    HoldFactory.create(member=member, expires_at=_days_ago(-1))

    page = _page(signed_in)

    assert f'<a class="card score-holds" href="{reverse("app:holds")}">' in page
    assert "2 of your perks are on hold." in page


def test_points_are_grouped_in_thousands(signed_in, member):
    points_adjust(member=member, points=12345, note="welcome", idempotency_key="welcome", actor="test")

    assert '<p class="score-balance">12,345</p>' in _page(signed_in)


def test_in_chinese_the_tiers_and_suggestions_come_from_the_domain(client, db):
    member = JoinedMemberFactory.create(locale=Locale.SIMPLIFIED_CHINESE)
    client.force_login(member.user)

    response = client.get(reverse("app:home"))

    page = response.content.decode()
    assert "入门" in page
    assert "白银" in page
    assert {s.label for s in response.context["suggestions"]} >= {"付款记录", "申报资产"}
    assert response.context["reasons"][0].startswith("目前还没有计入评分的共享数据")


def test_the_page_reads_a_two_year_member_in_a_few_queries(signed_in, member, django_assert_max_num_queries):
    for month in range(24):
        for night in (3, 17):
            _snapshot(member, score=600 + month, at=_days_ago(month * 30 + night))
    HoldFactory.create(member=member)
    points_adjust(member=member, points=500, note="welcome", idempotency_key="welcome", actor="test")
    _stand(member, score=580, tier="gold", below_band_since=_days_ago(3))

    # The page's own reads are ten (standing, the tier it would move to, the tiers, the latest
    # snapshot, event kinds, holds, the year by month, wallet, expiring lots); the other seven
    # come with every signed-in request (session, user, member, staff checks, session save).
    with django_assert_max_num_queries(17):
        response = signed_in.get(reverse("app:home"))

    assert len(response.context["history"].sparkline.points) == 12


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_score_journey(browser_page: Page, live_server):
    member = JoinedMemberFactory.create(user=UserFactory.create(email="an@example.test"))
    for months_ago, score in enumerate([500, 496, 488, 490, 479, 470, 474]):
        _snapshot(member, score=score, at=_days_ago(30 * months_ago + 5))
    page = browser_page

    sign_in(page, f"{live_server.url}/app/login/", "an@example.test", PASSWORD)

    expect(page.get_by_role("heading", level=1, name="Your score")).to_be_visible()
    expect(page.get_by_role("img", name="Score 500 of 950, tier Starter")).to_be_visible()
    expect(page.get_by_text("50 points to Silver")).to_be_visible()
    expect(page.locator(".sparkline figcaption")).to_contain_text("to 500 on")
    screenshot(page, "score")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "score-dark")
    page.get_by_role("link", name=re.compile(r"^Share your payment history data")).click()

    expect(page).to_have_url(f"{live_server.url}{reverse('app:consents')}")
    screenshot(page, "score-share")
