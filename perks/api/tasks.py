from celery import shared_task

from perks.api.idempotency import idempotency_records_purge as purge


@shared_task(name="api.idempotency_records_purge")
def idempotency_records_purge() -> int:
    return purge()
