"""Behind a transaction-pooling PgBouncer (1.18 cannot carry prepared statements in that
mode) the app prepares nothing on the server and holds no server-side cursor open, when
DATABASE_TRANSACTION_POOLING (or DATABASE_SERVER_PREPARES=off alone) says so; and it works
through one (.ci/pgbouncer.sh, which CI's last smoke run starts), where a statement prepared
under the default settings breaks."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import ProgrammingError, connection

from loyalty.core.sql import prepared_cursor
from perks.merchants.permissions import Role
from perks.vouchers.models import Redemption, VoucherStatus
from perks.vouchers.services import voucher_issue, voucher_redeem
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory, StaffFactory

ROOT = Path(__file__).resolve().parents[2]


def _database_settings(**env: str) -> dict[str, object]:
    """The default database's settings as the served processes load them, on PostgreSQL."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_SETTINGS"))}
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from config import settings; d = settings.DATABASES['default'];"
            " print(json.dumps({'prepare_threshold': d['OPTIONS']['prepare_threshold'],"
            " 'server_side_cursors_off': d['DISABLE_SERVER_SIDE_CURSORS']}))",
        ],
        cwd=ROOT,
        env={**clean, "DEBUG": "1", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    database: dict[str, object] = json.loads(loaded.stdout)
    return database


@pytest.mark.parametrize(
    ("env", "prepare_threshold", "server_side_cursors_off"),
    [
        ({}, 2, False),
        ({"DATABASE_PREPARE_THRESHOLD": "5"}, 5, False),
        ({"DATABASE_TRANSACTION_POOLING": "on"}, None, True),  # PgBouncer up to 1.20
        ({"DATABASE_SERVER_PREPARES": "off"}, None, False),
        # PgBouncer 1.21+ with max_prepared_statements carries them.
        ({"DATABASE_TRANSACTION_POOLING": "on", "DATABASE_SERVER_PREPARES": "on"}, 2, True),
    ],
)
def test_transaction_pooling_turns_off_server_prepares_and_server_side_cursors(
    env, prepare_threshold, server_side_cursors_off
):
    assert _database_settings(**env) == {
        "prepare_threshold": prepare_threshold,
        "server_side_cursors_off": server_side_cursors_off,
    }


@pytest.fixture
def prepare_threshold() -> Iterator[dict[str, object]]:
    """The default connection's OPTIONS, to set a threshold in; a new connection takes it."""
    options = connection.settings_dict["OPTIONS"]
    before = options.get("prepare_threshold")
    connection.close()
    yield options
    connection.close()
    options["prepare_threshold"] = before


def _redeem_three_vouchers() -> None:
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant, role=Role.OWNER).user
    perk = PerkFactory.create(merchant=merchant)
    vouchers = [voucher_issue(perk=perk, member=JoinedMemberFactory.create(), actor=owner) for _ in range(3)]
    for voucher in vouchers:
        voucher_redeem(merchant=merchant, actor=owner, code=voucher.code)


def _prepared_on_this_connection() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("threshold", "prepares"), [(None, False), (2, True)])
def test_with_server_prepares_off_redemptions_leave_nothing_prepared(prepare_threshold, threshold, prepares):
    prepare_threshold["prepare_threshold"] = threshold

    _redeem_three_vouchers()

    assert connection.connection.prepare_threshold == threshold
    assert bool(_prepared_on_this_connection()) is prepares


@pytest.fixture
def through_pgbouncer(request, transactional_db) -> Iterator[str]:
    """The default connection through a transaction-pooling PgBouncer (.ci/pgbouncer.sh),
    with the database settings the environment `request.param` (by default
    DATABASE_TRANSACTION_POOLING=on) gives; yields PgBouncer's port."""
    if shutil.which("pgbouncer") is None:
        pytest.skip("needs Debian's pgbouncer (apt-get install pgbouncer; .ci/run installs it)")
    loaded = _database_settings(**getattr(request, "param", {"DATABASE_TRANSACTION_POOLING": "on"}))
    work = Path(tempfile.mkdtemp(dir=settings.VAR_DIR, prefix="pgbouncer-"))  # readable by postgres
    env = {
        **os.environ,
        "PG_HOST": connection.settings_dict["HOST"],
        "PG_PORT": str(connection.settings_dict["PORT"]),
    }
    started = subprocess.run(  # noqa: S603 (our own script)
        [ROOT / ".ci" / "pgbouncer.sh", work], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    port = started.stdout.strip()
    saved = {key: connection.settings_dict[key] for key in ("PORT", "DISABLE_SERVER_SIDE_CURSORS")}
    threshold = connection.settings_dict["OPTIONS"].get("prepare_threshold")
    connection.close()
    connection.settings_dict["PORT"] = port
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = loaded["server_side_cursors_off"]
    connection.settings_dict["OPTIONS"]["prepare_threshold"] = loaded["prepare_threshold"]
    try:
        yield port
    finally:
        connection.close()
        connection.settings_dict.update(saved)
        connection.settings_dict["OPTIONS"]["prepare_threshold"] = threshold
        os.kill(int((work / "pgbouncer.pid").read_text()), signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.postgres
def test_redemptions_and_iterated_queries_work_through_a_transaction_pooling_pgbouncer(through_pgbouncer):
    _redeem_three_vouchers()

    with connection.cursor() as cursor:
        cursor.execute("SHOW port")  # PostgreSQL's own, not PgBouncer's
        (server_port,) = cursor.fetchone()
    assert str(server_port) != through_pgbouncer
    statuses = [r.voucher.status for r in Redemption.objects.select_related("voucher").iterator()]
    assert statuses == [VoucherStatus.REDEEMED] * 3


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("through_pgbouncer", "fails"),
    [({"DATABASE_TRANSACTION_POOLING": "on"}, False), ({}, True)],
    indirect=["through_pgbouncer"],
    ids=["transaction pooling settings", "default settings"],
)
def test_a_statement_prepared_on_one_server_connection_fails_on_the_next(through_pgbouncer, fails):
    def run_hand_written_statement() -> None:
        with prepared_cursor() as cursor:
            cursor.execute("SELECT %s::int", [1])

    for _ in range(3):  # psycopg prepares it on the run after `prepare_threshold` (2) runs
        run_hand_written_statement()
    # Another client takes the server connection that just ran it (PgBouncer hands out the
    # most recently used), so the next run goes to a new one.
    with psycopg.connect(
        host=connection.settings_dict["HOST"],
        port=through_pgbouncer,
        dbname=connection.settings_dict["NAME"],
        user=connection.settings_dict["USER"],
    ) as other:
        other.execute("SELECT 1")
        if fails:
            with pytest.raises(ProgrammingError, match=r"prepared statement \"_pg3_\d+\" does not exist"):
                run_hand_written_statement()
        else:
            run_hand_written_statement()
