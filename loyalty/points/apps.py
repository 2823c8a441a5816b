from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "loyalty.points"
    label = "points"
    verbose_name = "Points ledger"

    def ready(self) -> None:
        from loyalty.points import receivers

        receivers.connect()
