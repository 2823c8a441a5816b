"""The Celery app: `celery -A config worker` and `celery -A config beat`.

Configuration comes from Django settings (the CELERY_ names); the task class every task
shares is the kernel's (`loyalty.core.tasks.PerklineTask`), so no domain app imports this
module.
"""

import os

from celery import Celery

from config.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("perkline", task_cls="loyalty.core.tasks:PerklineTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = BEAT_SCHEDULE
