"""Gunicorn's access log without secrets (`logger_class` in gunicorn.conf.py).

Gunicorn writes each request from a table of atoms (`%(r)s` the request line, `%(U)s` the
path, `%({name}i)s` a request header…). Every atom that could carry a voucher code has it
masked as Django's request log does (loyalty/core/masking.py), and the headers that carry
credentials are never written, whatever `access_log_format` asks for. With no access log
configured, gunicorn never builds the atoms and this costs nothing.
"""

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from loyalty.core.masking import mask_paths

# The API key (Authorization), the session and CSRF cookies, as request, environ or response atoms.
CREDENTIAL_ATOMS = frozenset(
    {
        "{authorization}i",
        "{cookie}i",
        "{x-csrftoken}i",
        "{http_authorization}e",
        "{http_cookie}e",
        "{http_x_csrftoken}e",
        "{set-cookie}o",
    }
)


class MaskedAccessLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # Gunicorn writes "-" for an atom that is not there.
        return {
            key: mask_paths(value) if isinstance(value, str) else value
            for key, value in atoms.items()
            if key not in CREDENTIAL_ATOMS
        }
