"""Measured row sizes of every table, for the capacity model's storage (docs/scaling.md).

Run on a filled PostgreSQL database (`--fill`, on an empty migrated one): a table's bytes
a row are its whole size on disk (heap, TOAST and indexes, summed over its partitions when it is
partitioned) over its row count, and its heap row alone is `avg(pg_column_size(row))`.
"""

import os
import random
from typing import Any

from django.apps import apps
from django.db import connection
from django.utils import timezone

from demo.capacity.sql import server_version, table_bytes, table_rows

FILL = {"merchants": 8, "members": 2_000, "redemptions": 5_000, "events": 50_000, "purchases": 5_000}


def row_sizes_measure() -> dict[str, Any]:
    """Rows, bytes on disk and bytes a row of every model's table that holds rows."""
    if connection.vendor != "postgresql":
        raise RuntimeError("row sizes are measured on PostgreSQL; point DATABASE_URL at a filled database")
    tables: dict[str, dict[str, float]] = {}
    existing = set(connection.introspection.table_names())
    for table in sorted({model._meta.db_table for model in apps.get_models()} & existing):
        rows, heap_row = table_rows(table)
        if not rows:
            continue
        total = table_bytes(table)
        tables[table] = {
            "rows": rows,
            "total_bytes": total,
            "bytes_per_row": round(total / rows, 1),
            "heap_row_bytes": round(heap_row, 1),
        }
    return {
        "name": "row_sizes",
        "database": {
            "vendor": "postgresql",
            "server_version": server_version(),
            "name": connection.settings_dict["NAME"],
        },
        "machine": {"cores": os.cpu_count(), "load_average": [round(load, 2) for load in os.getloadavg()]},
        "tables": tables,
    }


def row_sizes_fill() -> dict[str, int]:
    """Rows enough to weigh, in an empty migrated database, made by the benchmarks' own
    builders (which expect one): redemptions drained of their side effects, score events
    and their keys with a recompute (standings and snapshots), points earned on purchases."""
    from bench.points_earn import _purchases
    from bench.redemption_side_effects import _redemptions_due, _shops
    from bench.score_recompute import _load_events_postgres
    from bench.support.redemptions import gold_members
    from bench.support.worker import queue_purge, tasks_parked
    from loyalty.core.refs import new_ref
    from loyalty.points.services import points_earn_purchases
    from loyalty.scoring.models import EventKey, EventKind, ScoreEvent
    from loyalty.scoring.services import scores_recompute_all
    from perks.vouchers.services.side_effects import redemption_side_effects_due

    members = gold_members(FILL["members"])
    _redemptions_due(_shops(FILL["merchants"]), members, FILL["redemptions"])
    with tasks_parked() as queue:
        redemption_side_effects_due()
        queue_purge(queue)
    kinds = list(EventKind.objects.values_list("code", "dimension", "impact"))
    with connection.cursor() as cursor:
        _load_events_postgres(cursor, FILL["events"], min(members), max(members), kinds, timezone.now())
    # The benchmark's events skip their keys (it times the recompute); each stored event has
    # one, kept for ever.
    events = ScoreEvent.objects.values_list("source", "external_id")
    EventKey.objects.bulk_create((EventKey(source=s, external_id=e) for s, e in events), batch_size=5000)
    scores_recompute_all()
    rng = random.Random(19)  # nosec B311  # repeatable filler rows, not secrets
    points_earn_purchases(
        merchant_ref=new_ref("mch"),
        merchant_name="Row Sizes Coffee",
        merchant_category="coffee",
        purchases=_purchases(FILL["purchases"], members, rng),
    )
    return FILL
