"""The guarded HTTP sender webhooks go out through, and the address rules it enforces.

A partner's URL names a host, and a host can lead anywhere: to a public server, or (by
mistake, or on purpose through DNS rebinding) to a service on our private network or to
this machine. Endpoints check the host written in the URL when it is saved
(`is_loopback`, `is_private_address`); every connection this module opens checks the
address it actually reaches (`public_session`), because what a name resolves to can
change after it was saved. `refusal_in` finds a refusal behind whatever requests raised,
so a delivery can record why nothing was sent.
"""

import ipaddress
import socket
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class AddressRefused(OSError):
    """The endpoint's name led to an address webhooks may not go to."""


def public_session() -> requests.Session:
    """A session that connects only to public addresses: the name in a URL was checked when
    the endpoint was saved, but what it resolves to can change afterwards (DNS rebinding),
    and a worker must never post to, and record the answer of, a service on our private
    network. Proxies from the environment are not used, so the address checked is the
    endpoint's own."""
    session = requests.Session()
    session.trust_env = False
    adapter = _PublicOnlyAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _PublicOnlyConnection(HTTPConnection):
    """Checks where the name leads before connecting (so nothing private is even knocked
    on), and the address actually connected to afterwards (the name may have been
    answered differently the second time)."""

    def _new_conn(self) -> socket.socket:
        for *_, address in socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM):
            self._refuse_unless_allowed(str(address[0]))
        sock = super()._new_conn()
        try:
            self._refuse_unless_allowed(sock.getpeername()[0])
        except AddressRefused:
            sock.close()
            raise
        return sock

    def _refuse_unless_allowed(self, address: str) -> None:
        if not address_allowed(address):
            raise AddressRefused(f"Refused: {self.host} is at {address}, which is not a public address.")


class _PublicOnlyHTTPSConnection(_PublicOnlyConnection, HTTPSConnection):
    pass


class _PublicOnlyPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicOnlyPool, "https": _PublicOnlyHTTPSPool}


def address_allowed(address: str) -> bool:
    """Whether webhooks may go to `address` (an IP address; ValueError for anything else):
    a public one, or this machine where WEBHOOK_ALLOW_LOOPBACK says so."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return bool(settings.WEBHOOK_ALLOW_LOOPBACK)
    return ip.is_global


def refusal_in(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind what requests raised, wherever urllib3 put it."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        found = pending.pop()
        if isinstance(found, AddressRefused):
            return found
        if isinstance(found, BaseException) and id(found) not in seen:
            seen.add(id(found))
            pending += [found.__cause__, found.__context__, getattr(found, "reason", None), *found.args]
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_private_address(host: str) -> bool:
    """An address written in the URL that webhooks may not go to; a name is checked where
    it leads, at each delivery."""
    try:
        return not address_allowed(host)
    except ValueError:
        return False
