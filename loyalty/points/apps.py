from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "loyalty.points"
    label = "points"
    verbose_name = "Points ledger"
