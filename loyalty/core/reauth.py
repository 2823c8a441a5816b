"""The password again before a sensitive action, good for a few minutes.

Members stay signed in on their phone for weeks, so a phone left unlocked must not be
enough to erase the account or change the cards deposits are held on. A view decorated
with `recent_password_required(template)` runs only if the password was given in this
session within `PASSWORD_CONFIRM_SECONDS`. Otherwise the request is answered with the
template, a form asking for the password that posts the original fields back to the same
address: with the right password the session is stamped and the action goes on. A form
may carry the `password` field itself (the erasure form does), so one step is enough.
Reading (GET, HEAD) is never held up.
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

SESSION_KEY = "password_confirmed_at"
PASSWORD_FIELD = "password"  # noqa: S105  # nosec B105  # the name of the form field, not a password
# Posted fields never sent back through the confirmation form.
NOT_REPOSTED = frozenset({PASSWORD_FIELD, "csrfmiddlewaretoken"})

View = Callable[..., HttpResponse]


def password_recently_confirmed(request: HttpRequest) -> bool:
    confirmed_at = request.session.get(SESSION_KEY)
    return confirmed_at is not None and time.time() - confirmed_at < settings.PASSWORD_CONFIRM_SECONDS


def password_confirm(request: HttpRequest, password: str) -> bool:
    """Check the password; if right, stamp the session so the next minutes need none.

    Checked through `authenticate`, as a sign-in is, so wrong guesses on a phone left
    unlocked count towards the same lockout (django-axes) as guesses at the sign-in page."""
    username = request.user.get_username()
    if not password or authenticate(request, username=username, password=password) != request.user:
        return False
    request.session[SESSION_KEY] = time.time()
    return True


def recent_password_required(template: str) -> Callable[[View], View]:
    """Let unsafe requests through only with the password given recently or in the request."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD") or password_recently_confirmed(request):
                return view(request, *args, **kwargs)
            given = request.POST.get(PASSWORD_FIELD, "")
            if password_confirm(request, given):
                return view(request, *args, **kwargs)
            fields = [(name, value) for name, value in request.POST.items() if name not in NOT_REPOSTED]
            # 403 for the question, 400 for a wrong answer: a script posting here (the
            # card form's fetch) sees a refusal, never a page it could take for success.
            return render(
                request, template, {"fields": fields, "wrong": bool(given)}, status=400 if given else 403
            )

        return wrapper

    return decorator
