from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin, with the console's two-factor site (config/admin.py) as `admin.site`,
    so every `@admin.register` in the apps lands on it."""

    default_site = "config.admin.ConsoleSite"
