"""Gunicorn's access log, as gunicorn.conf.py configures it, masks voucher codes in every
atom that carries the path and never writes a credential, whatever the format asks for."""

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from gunicorn.config import Config

from loyalty.core.accesslog import MaskedAccessLogger

CODE = "0123456789ABX"
KEY = "pk_live_0123456789ab_0123456789abcdefghjkmnpqrstvwx"
# Everything that names the path, the query or a credential.
FORMAT = (
    "%(r)s|%(U)s|%(q)s|%(f)s|%({raw_uri}e)s|%({path_info}e)s|%({authorization}i)s|%({Cookie}i)s|"
    "%({http_authorization}e)s|%({set-cookie}o)s|%(s)s"
)


def _logger(log_file: Path) -> MaskedAccessLogger:
    config = Config()
    config.set("accesslog", str(log_file))
    config.set("access_log_format", FORMAT)
    return MaskedAccessLogger(config)


def _request_for(path: str) -> tuple[SimpleNamespace, SimpleNamespace, dict[str, str]]:
    """A response, request and WSGI environ as gunicorn's worker hands them to its logger."""
    headers = [
        ("AUTHORIZATION", f"Bearer {KEY}"),
        ("COOKIE", "sessionid=s3cr3t"),
        ("REFERER", f"https://pos.example{path}"),
    ]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?expand=perk",
        "PATH_INFO": path,
        "QUERY_STRING": "expand=perk",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_AUTHORIZATION": f"Bearer {KEY}",
        "HTTP_REFERER": f"https://pos.example{path}",
    }
    response = SimpleNamespace(status="404 Not Found", headers=[("Set-Cookie", "csrftoken=t0k3n")], sent=120)
    return response, SimpleNamespace(headers=headers), environ


def test_the_access_line_of_a_voucher_lookup_holds_no_code_and_no_credential(tmp_path):
    log_file = tmp_path / "access.log"
    logger = _logger(log_file)

    logger.access(*_request_for(f"/api/v1/vouchers/{CODE}"), timedelta(milliseconds=3))

    line = log_file.read_text()
    assert line.split("|") == [
        "GET /api/v1/vouchers/0123…?expand=perk HTTP/1.1",
        "/api/v1/vouchers/0123…",
        "expand=perk",
        "https://pos.example/api/v1/vouchers/0123…",
        "/api/v1/vouchers/0123…?expand=perk",
        "/api/v1/vouchers/0123…",
        "-",
        "-",
        "-",
        "-",
        "404\n",
    ]
    assert CODE not in line
    assert KEY not in line


def test_other_paths_are_written_as_they_came(tmp_path):
    log_file = tmp_path / "access.log"

    _logger(log_file).access(*_request_for("/api/v1/redemptions"), timedelta(milliseconds=3))

    assert log_file.read_text().startswith(
        "GET /api/v1/redemptions?expand=perk HTTP/1.1|/api/v1/redemptions|"
    )


def test_gunicorn_conf_uses_the_masking_logger():
    served = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    config = Config()
    config.set("logger_class", served["logger_class"])

    assert config.logger_class is MaskedAccessLogger
