from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "loyalty.core"
    label = "core"
    verbose_name = "Perkline core"

    def ready(self) -> None:
        from loyalty.core import checks  # noqa: F401 (registers the checks)
        from loyalty.core.crypto import keys_validate

        keys_validate()  # a malformed ENCRYPTION_KEYS stops every process as it starts
