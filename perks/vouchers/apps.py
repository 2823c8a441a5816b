from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "perks.vouchers"
    label = "vouchers"
    verbose_name = _("Vouchers")

    def ready(self) -> None:
        # The campaigns package's tasks live outside `perks.vouchers.tasks`, where
        # Celery's autodiscovery would look: importing the receivers registers them too.
        from loyalty.scoring.events import TierChangeNotice, tier_changed
        from perks.vouchers.campaigns.receivers import on_tier_changed

        tier_changed.connect(on_tier_changed, sender=TierChangeNotice, dispatch_uid="vouchers.auto_issue")
        from perks.vouchers import receivers

        receivers.connect()
