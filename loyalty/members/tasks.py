from celery import shared_task

from loyalty.members.services import member_passes_purge


@shared_task(name="members.purge_passes")
def purge_passes() -> int:
    return member_passes_purge()
