from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "surfaces.api"
    label = "api"
    verbose_name = "Partner API"
