import warnings

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from PIL import Image


class MerchantsConfig(AppConfig):
    name = "perks.merchants"
    label = "merchants"
    verbose_name = _("Merchants")

    def ready(self) -> None:
        # Pillow only warns past its pixel limit; an image that large is an attack, not a picture.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        from perks.merchants import receivers

        receivers.connect()
