from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "perks.vouchers"
    label = "vouchers"
    verbose_name = _("Vouchers")

    def ready(self) -> None:
        # The campaigns package's tasks live outside `perks.vouchers.tasks`, where
        # Celery's autodiscovery would look: register them with the app here.
        from perks.vouchers.campaigns import tasks  # noqa: F401
