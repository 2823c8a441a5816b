import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.core.health import health_report

SURFACES = [
    {"url": "/app/", "title": "Citizen app", "who": "for members: your score, why, your perks"},
    {"url": "/portal/", "title": "Merchant portal", "who": "for merchant staff: perks, keys, webhooks"},
    {"url": "/api/docs/", "title": "Partner API docs", "who": "for point-of-sale and booking systems"},
    {"url": "/admin/", "title": "Operator console", "who": "for Perkline staff"},
]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"links": SURFACES})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker and the cache answer; with `?deep=1`, and only for
    the prober holding `HEALTHZ_TOKEN`, a worker's round trip too. 503 names what failed."""
    deep = request.GET.get("deep") == "1"
    if deep and (refusal := _deep_refusal(request)) is not None:
        return refusal
    report = health_report(deep=deep)
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)


def _deep_refusal(request: HttpRequest) -> JsonResponse | None:
    """A deep check sends a task and waits on a worker: only for whoever holds the token,
    and for nobody while there is no token, so it is never an open door by default."""
    expected = settings.HEALTHZ_TOKEN
    if not expected:
        return _refused(_("Deep checks are off: the server has no HEALTHZ_TOKEN."), status=403)
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        refusal = _refused(
            _("Deep checks need the health token, as 'Authorization: Bearer <token>'."), status=401
        )
        refusal["WWW-Authenticate"] = 'Bearer realm="healthz"'
        return refusal
    return None


def _refused(detail: str, *, status: int) -> JsonResponse:
    return JsonResponse({"status": "refused", "detail": detail}, status=status)
