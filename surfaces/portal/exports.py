"""Exports in the portal: the merchant's redemptions and vouchers as CSV, for a range of days.

Each file is streamed as perks.vouchers.exports writes it, so a year of a busy merchant
downloads without the server ever holding it; it reads the replica where there is one.
Redemptions need the audit trail's permission (who redeemed what, where); vouchers name
live codes, so they need the permission that issues them, as a campaign's codes do.
"""

from collections.abc import Callable, Iterator

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.core.replica import lag_tolerant
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.vouchers.exports import redemptions_csv, vouchers_csv
from surfaces.portal.access import StaffRequest, may_use, portal_page
from surfaces.portal.hooks_forms import ExportForm

Export = Callable[..., Iterator[str]]


@never_cache
@require_GET
@portal_page(permission=Permission.AUDIT_VIEW)
def exports(request: StaffRequest) -> HttpResponse:
    return _page(request, ExportForm(prefix="redemptions"), ExportForm(prefix="vouchers"))


@never_cache
@require_GET
@portal_page(permission=Permission.AUDIT_VIEW)
@lag_tolerant
def redemptions_export(request: StaffRequest) -> HttpResponseBase:
    form = ExportForm(request.GET, prefix="redemptions")
    if not form.is_valid():
        return _page(request, form, ExportForm(prefix="vouchers"), status=400)
    return _streamed(request.merchant, redemptions_csv, form, "redemptions")


@never_cache
@require_GET
@portal_page(permission=Permission.VOUCHERS_ISSUE)
@lag_tolerant
def vouchers_export(request: StaffRequest) -> HttpResponseBase:
    form = ExportForm(request.GET, prefix="vouchers")
    if not form.is_valid():
        return _page(request, ExportForm(prefix="redemptions"), form, status=400)
    return _streamed(request.merchant, vouchers_csv, form, "vouchers")


def _streamed(merchant: Merchant, export: Export, form: ExportForm, what: str) -> StreamingHttpResponse:
    since, until = form.bounds()
    assert since is not None  # both are required
    assert until is not None
    response = StreamingHttpResponse(
        export(merchant=merchant, since=since, until=until), content_type="text/csv; charset=utf-8"
    )
    first, last = form.cleaned_data["since"], form.cleaned_data["until"]
    response["Content-Disposition"] = f'attachment; filename="{merchant.slug}-{what}-{first}-{last}.csv"'
    return response


def _page(
    request: StaffRequest, redemptions: ExportForm, vouchers: ExportForm, status: int = 200
) -> HttpResponse:
    context = {
        "redemptions_form": redemptions,
        "vouchers_form": vouchers,
        "can_export_vouchers": may_use(request, "portal:export-vouchers"),
    }
    return render(request, "portal/exports.html", context, status=status)
