"""Who may use the citizen app: signed-in members, each seeing only what is theirs."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from loyalty.core.language import language_cookie_set
from loyalty.members.models import Member

View = Callable[..., HttpResponse]


class MemberRequest(HttpRequest):
    member: Member


def member_required(view: View) -> View:
    """Sign-in first; then the member's own language for everything the page says, whatever
    the browser's cookie or Accept-Language, which the cookie is brought in line with."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url="app:login")
        member = Member.objects.filter(user=request.user).first()
        if member is None:
            raise PermissionDenied("This account is not a member account.")
        request.member = member  # type: ignore[attr-defined]
        translation.activate(member.locale)
        request.LANGUAGE_CODE = member.locale
        response = view(request, *args, **kwargs)
        if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != member.locale:
            # Signed in on a browser that had another language (or none): the member's
            # choice wins, and the sign-in page after sign-out keeps to it.
            language_cookie_set(response, member.locale)
        return response

    return wrapper
