"""Campaign jobs. Each takes ids and is safe to run twice: a campaign planned or a chunk
done returns at once. Services enqueue these, so they import the services inside."""

from datetime import datetime
from typing import Any

from loyalty.core.tasks import PerklineTask, task


class CampaignTask(PerklineTask):
    """A campaign job that fails for good (retries spent, or an error not worth retrying)
    marks its campaign failed with the reason, instead of leaving it running for ever."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        from perks.vouchers.campaigns.services import campaign_fail
        from perks.vouchers.models import CampaignChunk

        campaign_id = args[0] if self.name == campaign_plan_task.name else None
        if campaign_id is None:
            campaign_id = (
                CampaignChunk.objects.filter(pk=args[0]).values_list("campaign_id", flat=True).first()
            )
        if campaign_id is not None:
            campaign_fail(campaign_id=campaign_id, reason=f"{type(exc).__name__}: {exc}")


@task("vouchers.campaign_plan", base=CampaignTask)
def campaign_plan_task(campaign_id: int) -> int:
    from perks.vouchers.campaigns.services import campaign_plan

    return len(campaign_plan(campaign_id=campaign_id))


@task("vouchers.campaign_chunk_issue", base=CampaignTask)
def campaign_chunk_issue_task(chunk_id: int) -> int:
    from perks.vouchers.campaigns.services import campaign_chunk_issue

    outcome = campaign_chunk_issue(chunk_id=chunk_id)
    return outcome.issued if outcome else 0


@task("vouchers.campaigns_resume")
def campaigns_resume_task() -> int:
    from perks.vouchers.campaigns.services import campaigns_resume

    return campaigns_resume()


@task("vouchers.auto_issue")
def vouchers_auto_issue_task(
    member_id: int, tier: str, previous_tier: str | None, changed_at: str | None = None
) -> int:
    """`changed_at` is the tier change's time in ISO 8601; messages queued before it was
    passed have none."""
    from perks.vouchers.campaigns.services import vouchers_auto_issue

    at = datetime.fromisoformat(changed_at) if changed_at else None
    return len(
        vouchers_auto_issue(member_id=member_id, tier=tier, previous_tier=previous_tier, changed_at=at)
    )


@task("vouchers.auto_issue_due")
def vouchers_auto_issue_due_task() -> int:
    from perks.vouchers.campaigns.services import vouchers_auto_issue_due

    return vouchers_auto_issue_due()
