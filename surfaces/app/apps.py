from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CitizenAppConfig(AppConfig):
    name = "surfaces.app"
    label = "citizen_app"
    verbose_name = _("Citizen app")
