"""The served processes refuse to start without a secret key in production, and load
everything before their first request; manage.py, the developer's tool, debugs unless told
otherwise."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(  # noqa: S603 (our own interpreter and argv)
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_production_settings_refuse_to_load_without_a_secret_key():
    loading = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()"

    refused = _run(["-c", loading])
    started = _run(["-c", loading], SECRET_KEY="x" * 50)

    assert refused.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in refused.stderr
    assert started.returncode == 0, started.stderr


def test_manage_py_is_a_development_tool_unless_debug_is_turned_off():
    assert _run(["manage.py", "makemigrations", "--check", "--dry-run"]).returncode == 0
    assert _run(["manage.py", "check"], DEBUG="0").returncode != 0


def test_the_served_app_imports_every_view_and_hides_it_from_the_garbage_collector():
    served = _run(
        [
            "-c",
            "import gc, sys; import config.wsgi;"
            " print(gc.get_freeze_count(), 'surfaces.api.views.redemptions' in sys.modules)",
        ],
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
    )

    assert served.returncode == 0, served.stderr
    frozen, views_loaded = served.stdout.split()
    assert int(frozen) > 10_000
    assert views_loaded == "True"
