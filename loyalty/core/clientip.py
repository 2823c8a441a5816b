"""The address a request came from, as the proxies in front of us saw it.

Behind a proxy `REMOTE_ADDR` is the proxy, so counting by it would lump every visitor
together (one person's lockout would lock everyone out). Each proxy appends the address it
was called from to `X-Forwarded-For`; with `TRUSTED_PROXY_COUNT` proxies in front, the
client is that many entries from the right. Entries further left were written by the
client itself and are never trusted.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: `REMOTE_ADDR`, or the entry our own proxies vouch for."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [
        hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()
    ]
    # Fewer hops than proxies means the request did not come through them all: a
    # misconfiguration or a direct call, so only the socket's peer can be believed.
    return hops[-proxies] if len(hops) >= proxies else remote
