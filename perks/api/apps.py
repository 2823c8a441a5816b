from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "perks.api"
    label = "api"
    verbose_name = "Partner API"
