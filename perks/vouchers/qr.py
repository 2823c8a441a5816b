"""QR images of voucher codes, made once and kept in the default storage.

The file name is a keyed hash of the code, not the code: a listing of the storage, or a
leaked URL, does not hand out vouchers. Regular QR (never Micro QR, which many
point-of-sale scanners cannot read), error correction M, a quiet zone of four modules.
"""

import io
from dataclasses import dataclass
from typing import Literal

import segno
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.crypto import salted_hmac

from perks.vouchers.codes import code_format, code_normalize

QrKind = Literal["png", "svg"]
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}
SCALE = 8
BORDER = 4


@dataclass(frozen=True)
class QrImage:
    name: str
    content_type: str

    @property
    def url(self) -> str:
        return default_storage.url(self.name)


def qr_image(*, code: str, kind: QrKind) -> QrImage:
    """The stored QR image of `code` (any accepted spelling), made the first time it is asked for."""
    canonical = code_normalize(code)
    if kind not in CONTENT_TYPES:
        raise ValueError(f"unknown QR image kind {kind!r}")
    name = f"vouchers/qr/{_file_key(canonical)}.{kind}"
    if not default_storage.exists(name):
        _store(name, _render(canonical, kind))
    return QrImage(name=name, content_type=CONTENT_TYPES[kind])


def _render(code: str, kind: QrKind) -> bytes:
    out = io.BytesIO()
    segno.make(code_format(code), error="m", micro=False).save(out, kind=kind, scale=SCALE, border=BORDER)
    return out.getvalue()


def _store(name: str, content: bytes) -> None:
    """Two requests may render the same image at once; the first one stored is kept."""
    saved = default_storage.save(name, ContentFile(content))
    if saved != name:
        default_storage.delete(saved)


def _file_key(code: str) -> str:
    return salted_hmac("perkline.vouchers.qr", code, algorithm="sha256").hexdigest()[:40]
