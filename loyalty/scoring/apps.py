from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "loyalty.scoring"
    label = "scoring"
    verbose_name = _("Scoring")

    def ready(self) -> None:
        from loyalty.scoring import receivers

        receivers.connect()
