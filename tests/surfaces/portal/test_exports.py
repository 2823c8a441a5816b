"""Exports of redemptions and vouchers as CSV: rows and days, members named only where linked,
no formulas, both ways of reading (a server-side cursor, keyset batches), and a million rows
streamed in bounded memory on PostgreSQL."""

import csv
import gc
import io
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from perks.merchants.permissions import Role
from perks.vouchers import exports
from perks.vouchers.codes import code_format
from perks.vouchers.exports import REDEMPTION_HEADER, VOUCHER_HEADER, redemptions_csv
from perks.vouchers.services import redemption_reverse, voucher_issue, voucher_redeem
from tests.factories import JoinedMemberFactory, LocationFactory, PerkFactory, StaffFactory
from tests.support.links import linked

pytestmark = pytest.mark.django_db

ROWS = 1_000_000
MEMORY_LIMIT_BYTES = 100 * 1024 * 1024


@pytest.fixture
def manager(client):
    manager = StaffFactory.create(role=Role.MANAGER, user__first_name="Cy")
    client.force_login(manager.user)
    return manager


def _redeemed(staff, perk, member=None, location=None):
    voucher = voucher_issue(perk=perk, member=member or JoinedMemberFactory.create(), actor=staff.user)
    code = location.code if location else None
    return voucher_redeem(merchant=staff.merchant, actor=staff.user, code=voucher.code, location_code=code)


def _rows(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]  # live codes: no browser or proxy keeps them
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _get(client, staff, what, since, until):
    return client.get(
        reverse(f"portal:export-{what}", args=[staff.merchant.slug]),
        {f"{what}-since": str(since), f"{what}-until": str(until)},
    )


def test_redemptions_of_the_days_chosen_with_members_named_only_where_linked(client, manager):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        perk = PerkFactory.create(merchant=manager.merchant, title="Free coffee")
        old = _redeemed(manager, perk)
    airport = LocationFactory.create(merchant=manager.merchant, name="Airport T2")
    regular, stranger = JoinedMemberFactory.create(), JoinedMemberFactory.create()
    linked(regular, manager.merchant)
    today = timezone.localdate()
    mine = _redeemed(manager, perk, regular, airport)
    theirs = _redeemed(manager, perk, stranger)
    redemption_reverse(redemption=theirs, actor=manager.user)
    elsewhere = StaffFactory.create(role=Role.OWNER)
    _redeemed(elsewhere, PerkFactory.create(merchant=elsewhere.merchant))

    rows = _rows(_get(client, manager, "redemptions", today - timedelta(days=1), today))
    everything = _rows(_get(client, manager, "redemptions", today - timedelta(days=5), today))

    assert rows[0] == list(REDEMPTION_HEADER)
    by_ref = {row[0]: row for row in rows[1:]}
    assert set(by_ref) == {mine.ref, theirs.ref}
    assert by_ref[mine.ref][2:7] == [
        "Free coffee",
        "Airport T2",
        code_format(mine.voucher.code),
        regular.ref,
        "api",
    ]
    assert by_ref[mine.ref][7] == ""
    assert by_ref[theirs.ref][3:6] == ["", code_format(theirs.voucher.code), ""]  # not linked: no member
    assert by_ref[theirs.ref][7]  # reversed, and when
    assert stranger.ref not in str(rows)
    assert [row[0] for row in everything[1:]] == [old.ref, mine.ref, theirs.ref]  # oldest first


def test_vouchers_of_the_days_chosen(client, manager):
    perk = PerkFactory.create(merchant=manager.merchant, title="Lounge pass")
    regular = JoinedMemberFactory.create()
    linked(regular, manager.merchant)
    voucher = voucher_issue(perk=perk, member=regular, actor=manager.user)
    today = timezone.localdate()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=manager.user)

    rows = _rows(_get(client, manager, "vouchers", today, today))

    assert rows[0] == list(VOUCHER_HEADER)
    assert len(rows) == 2
    code, _issued, title, status, uses, _expires, member, _source = rows[1]
    assert (code, title, status, uses, member) == (
        code_format(voucher.code),
        "Lounge pass",
        "issued",
        "0/1",
        regular.ref,
    )


def test_cells_that_would_start_a_formula_are_defused(client, manager):
    perk = PerkFactory.create(merchant=manager.merchant, title='=HYPERLINK("http://x")')
    place = LocationFactory.create(merchant=manager.merchant, name="+cmd|' /C calc'!A0", code="X1")
    _redeemed(manager, perk, location=place)
    today = timezone.localdate()

    rows = _rows(_get(client, manager, "redemptions", today, today))

    assert rows[1][2] == '\'=HYPERLINK("http://x")'
    assert rows[1][3] == "'+cmd|' /C calc'!A0"
    assert exports.csv_cell("-1") == "'-1"
    assert exports.csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert exports.csv_cell("Free coffee") == "Free coffee"


def test_the_exports_page_offers_both_and_a_bad_range_is_explained(client, manager):
    page = client.get(reverse("portal:exports", args=[manager.merchant.slug]))
    today = timezone.localdate()

    refused = _get(client, manager, "redemptions", today, today - timedelta(days=1))

    assert "Download redemptions" in page.content.decode()
    assert "Download vouchers" in page.content.decode()
    assert refused.status_code == 400
    assert "Choose a day on or after the first day." in refused.content.decode()


def test_a_cashier_exports_nothing(client):
    cashier = StaffFactory.create(role=Role.CASHIER)
    client.force_login(cashier.user)
    today = timezone.localdate()

    assert client.get(reverse("portal:exports", args=[cashier.merchant.slug])).status_code == 403
    assert _get(client, cashier, "redemptions", today, today).status_code == 403
    assert _get(client, cashier, "vouchers", today, today).status_code == 403


def test_keyset_batches_read_the_same_rows_as_the_cursor(manager, monkeypatch, django_assert_max_num_queries):
    perk = PerkFactory.create(merchant=manager.merchant)
    at = timezone.now()
    with time_machine.travel(at, tick=False):  # rows that share their time: pk breaks the tie
        made = [_redeemed(manager, perk) for _ in range(7)]
    since, until = at - timedelta(hours=1), at + timedelta(hours=1)
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 3)

    through_cursor = list(redemptions_csv(merchant=manager.merchant, since=since, until=until))
    settings_dict = connections["default"].settings_dict
    monkeypatch.setitem(settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    with django_assert_max_num_queries(4):  # three batches of at most 3, and the empty one
        in_batches = list(redemptions_csv(merchant=manager.merchant, since=since, until=until))

    assert len(through_cursor) == 1 + 3  # the header, then a chunk of text per 3 rows
    assert in_batches == through_cursor
    refs = [line.split(",")[0] for line in "".join(in_batches).splitlines()[1:]]
    assert refs == [redemption.ref for redemption in sorted(made, key=lambda r: r.pk)]


def _peak_rss_reset() -> int:
    """Reset the process's peak resident size (Linux) and return the size now, in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _fill_million(staff) -> None:
    """A million redemptions of a thousand vouchers, written by the database itself."""
    perk = PerkFactory.create(merchant=staff.merchant, title="Free coffee")
    location = LocationFactory.create(merchant=staff.merchant, name="Airport T2")
    vouchers = [
        voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=staff.user).pk for _ in range(20)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO vouchers_redemption (ref, voucher_id, merchant_id, location_id, channel, amount,
                currency, benefit, metadata, actor, occurred_at, created_at, side_effects_at)
            SELECT 'red_m' || lpad(i::text, 12, '0'), (%s::bigint[])[1 + i %% 20], %s, %s, 'api', NULL, '',
                '{"item": "Flat white"}', '{}', 'system', now() - i * interval '1 ms',
                now() - i * interval '1 ms', now()
            FROM generate_series(1, %s) AS i
            """,
            [vouchers, staff.merchant.pk, location.pk, ROWS],
        )
        cursor.execute("ANALYZE vouchers_redemption")


def _streamed_peak_growth(client, staff) -> tuple[int, int]:
    """Lines of the redemptions export of today and yesterday, read as a server sends them,
    chunk by chunk, and how far the process's peak resident size (which counts the database
    driver's buffers, not only Python's objects) rose above where it was."""
    today = timezone.localdate()
    gc.collect()
    baseline = _peak_rss_reset()
    response = _get(client, staff, "redemptions", today - timedelta(days=1), today)
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    return lines, _status_bytes("VmHWM") - baseline


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # about a minute on an idle machine; CI's shared runners are slower
def test_a_million_redemptions_stream_in_bounded_memory_either_way(client):
    """Through a server-side cursor, and in keyset batches as behind a transaction-pooling
    PgBouncer (where a plain cursor would hold the whole result in the driver)."""
    manager = StaffFactory.create(role=Role.MANAGER)
    client.force_login(manager.user)
    _fill_million(manager)
    settings_dict = connections["default"].settings_dict
    assert not settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")

    through_cursor = _streamed_peak_growth(client, manager)
    settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
    try:
        in_batches = _streamed_peak_growth(client, manager)
    finally:
        settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = False

    for lines, growth in (through_cursor, in_batches):
        assert lines == ROWS + 1
        assert growth < MEMORY_LIMIT_BYTES, f"peak memory grew {growth / 2**20:.0f} MB"
