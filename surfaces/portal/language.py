"""The portal's language switch: English or 简体中文, kept in the browser's language cookie.

Staff have no profile to keep a choice on (members do, surfaces/app/language.py), so the
cookie is the whole of it: before anyone chooses, the browser's Accept-Language decides
(Django's LocaleMiddleware); once chosen, the cookie wins, before sign-in and after it.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.core.language import language_cookie_set
from loyalty.core.redirects import safe_next


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    chosen = request.POST.get("language", "")
    if chosen not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Choose one of the languages offered."), content_type="text/plain")
    # Back to the page the switch was on, if it is one of ours; else where the portal starts.
    response = HttpResponseRedirect(safe_next(request, reverse("portal:home")))
    language_cookie_set(response, chosen)
    return response
