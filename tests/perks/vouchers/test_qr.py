import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from perks.vouchers.codes import UnknownCode, code_format, code_generate
from perks.vouchers.qr import qr_image


def test_png_and_svg_are_made_once_and_then_served_from_storage(media):
    code = code_generate()

    png = qr_image(code=code, kind="png")
    made_at = default_storage.get_modified_time(png.name)
    again = qr_image(code=code_format(code).lower(), kind="png")
    svg = qr_image(code=code, kind="svg")

    assert again == png
    assert default_storage.get_modified_time(png.name) == made_at
    assert png.content_type == "image/png"
    with default_storage.open(png.name) as stored:
        image = Image.open(io.BytesIO(stored.read()))
        assert image.format == "PNG"
        assert image.size[0] == image.size[1] >= (21 + 8) * 8  # a regular QR, quiet zone included
    with default_storage.open(svg.name) as stored:
        assert stored.read().startswith(b"<?xml")
    assert len(list((media / "vouchers" / "qr").iterdir())) == 2


def test_the_file_name_does_not_give_the_code_away(media):
    code = code_generate()

    name = qr_image(code=code, kind="svg").name

    assert code not in name.upper()
    assert code_format(code) not in name.upper()


def test_a_code_that_cannot_exist_gets_no_image(media):
    with pytest.raises(UnknownCode):
        qr_image(code="ABCD-EFGH-JKMN-0", kind="png")
