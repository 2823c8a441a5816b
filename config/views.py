from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.core.health import run_checks

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
    """200 when the database and the broker answer (and a worker, with `?deep=1`)."""
    checks = run_checks(deep=request.GET.get("deep") == "1")
    healthy = all(check.ok for check in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)
