"""Background work of the catalog: perk images go through the merchants' image tasks
(perks/merchants/tasks.py); the sweep behind them, over perks, is here, as the merchant
side knows nothing of perks.

Services enqueue tasks, so each task imports what it calls inside (loyalty/core/tasks.py).
"""

from loyalty.core.tasks import task


@task("catalog.perk_images_sweep")
def perk_images_sweep() -> dict[str, int]:
    """Stands in for the image tasks when the broker was down as a perk's image was set."""
    from perks.catalog.services import perk_images_sweep as sweep

    swept = sweep()
    return {"made": swept.made, "deleted": swept.deleted}
