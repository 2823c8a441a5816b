from celery import shared_task
from django.utils import timezone

from loyalty.points.services import points_expire_due


@shared_task(name="points.expire_due")
def expire_due() -> dict[str, int]:
    """Daily: expire lots past their date and send the notices before. Safe to run twice."""
    result = points_expire_due(today=timezone.localdate())
    return {"wallets": result.wallets, "points": result.points, "notices": result.notices}
