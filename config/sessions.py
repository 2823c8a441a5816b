"""Staff and operators are signed out after `STAFF_SESSION_IDLE_SECONDS` without a request.

A merchant's counter or an operator's desk is a shared screen; a member's phone is not,
so members keep the long `SESSION_COOKIE_AGE`. Whether a session is a staff one is decided
once, on its first signed-in response (the sign-in's own, whichever page signed them in),
and kept in the session. From then on each response pushes the expiry back, writing the
session at most once a minute rather than on every request.

Only the session is read, never `request.user`: the partner API's requests carry no
session cookie (so this reads nothing from the database for them), and the API puts its
own partner in `request.user`.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse

from perks.merchants.models import Staff

POLICY_KEY = "idle_timeout"
TOUCHED_KEY = "idle_touched_at"
# Seconds between two writes of an idle session: its expiry is at most this early.
TOUCH_EVERY = 60


def is_staff_session(user_id: Any) -> bool:
    """Operators (the console) and anyone working for a merchant (the portal)."""
    is_operator = get_user_model().objects.filter(pk=user_id, is_staff=True).exists()
    return is_operator or Staff.objects.filter(user_id=user_id).exists()


def idle_timeout_keep(session: SessionBase, idle: int) -> None:
    """Expire the session `idle` seconds from now (0: keep the site's session age)."""
    session[POLICY_KEY] = idle
    if idle:
        session[TOUCHED_KEY] = time.time()
        session.set_expiry(idle)


class StaffIdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Read after the view, which may have just signed someone in or out.
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            self._keep_alive(session)
        return response

    @staticmethod
    def _keep_alive(session: SessionBase) -> None:
        idle = session.get(POLICY_KEY)
        if idle is None:
            idle_timeout_keep(
                session, settings.STAFF_SESSION_IDLE_SECONDS if is_staff_session(session[SESSION_KEY]) else 0
            )
        elif idle and time.time() - session.get(TOUCHED_KEY, 0) >= TOUCH_EVERY:
            idle_timeout_keep(session, idle)
