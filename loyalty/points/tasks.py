from django.utils import timezone

from loyalty.core.tasks import task


@task("points.expire_due")
def expire_due() -> dict[str, int]:
    """Daily: expire lots past their date and send the notices before. Safe to run twice."""
    from loyalty.points.services import points_expire_due

    result = points_expire_due(today=timezone.localdate())
    return {"wallets": result.wallets, "points": result.points, "notices": result.notices}
