"""The app's language switch: English or 简体中文, kept on the member and in a cookie.

Before anyone chooses, the browser's Accept-Language decides (Django's LocaleMiddleware);
the cookie, once set here, wins over it. A signed-in member's stored choice wins over both
on the member's pages (surfaces/app/access.py), so the switch writes both at once.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.core.language import language_cookie_set
from loyalty.core.redirects import safe_next
from loyalty.members.models import Member
from loyalty.members.services import member_locale_set


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    chosen = request.POST.get("language", "")
    if chosen not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Choose one of the languages offered."), content_type="text/plain")
    member = Member.objects.filter(user=request.user).first() if request.user.is_authenticated else None
    if member is not None:
        member_locale_set(member=member, locale=chosen)
    response = HttpResponseRedirect(
        # The page the switch was on, if it is one of ours; else where the app starts.
        safe_next(request, reverse("app:home" if request.user.is_authenticated else "app:login"))
    )
    language_cookie_set(response, chosen)
    return response
