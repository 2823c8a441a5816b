"""The member pass: a QR code a partner scans, which rotates before it expires.

The page says when the next code comes (`data-seconds-left`, counted down by
static/js/app/pass.js) and names the code for screen readers. It needs a connection,
which its main element says (`data-needs-network`) for the offline banner: a code kept
from an earlier visit would have expired.
"""

import segno
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty.members.services import member_pass_issue
from surfaces.app.access import MemberRequest, member_required


def pass_refresh_seconds() -> int:
    """A fresh code halfway through each one's life: one scanned just before the page
    changes it stays valid long enough for the partner's look-up."""
    return max(1, settings.MEMBER_PASS_TTL_SECONDS // 2)


@never_cache
@require_GET
@member_required
def member_pass(request: MemberRequest) -> HttpResponse:
    """The pass page; htmx asks for the QR code alone each time it is due."""
    token = member_pass_issue(member=request.member)
    qr_svg = segno.make(token, error="m").svg_inline(scale=5, dark="#1d2330", light="#fff", omitsize=True)
    template = "app/_pass_qr.html" if request.htmx else "app/pass.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "qr_svg": qr_svg,
            "refresh_seconds": pass_refresh_seconds(),
            "valid_seconds": settings.MEMBER_PASS_TTL_SECONDS,
        },
    )
