"""Uploaded images that every page may show: merchants' logos and perks' images, with
their display sizes (perks.merchants.images).

Nothing else under MEDIA_ROOT is served here: QR images of voucher codes are only ever
sent by the member's own voucher pages. Every stored name is fresh (a new upload never
reuses one, and a rendition's name is its original's plus its width), so a response may
be kept for a year.
"""

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

# The folders images are stored in (perks.catalog.services, perks.merchants.services, and
# the models' upload_to for the first uploads); a file name without any further folder.
PUBLIC_IMAGE_PATTERN = (
    r"^media/(?P<name>(?:perks(?:/prk_[A-Za-z0-9]+)?|merchants/(?:logos|mch_[A-Za-z0-9]+/logo))"
    r"/[A-Za-z0-9_-]+(?:\.w[0-9]+)?\.(?:png|jpe?g|webp))$"
)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
A_YEAR = 365 * 24 * 3600


@require_GET
def public_image(request: HttpRequest, name: str) -> FileResponse:
    content_type, _ = mimetypes.guess_type(name)
    if content_type not in IMAGE_TYPES or not default_storage.exists(name):
        raise Http404
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
    return response
