"""Background work of vouchers. Each task takes ids, calls one service, and is safe to run
twice. Services enqueue these, so each task imports what it calls inside (loyalty/core/tasks.py)."""

from loyalty.core.tasks import task


@task("vouchers.redemption_side_effects_due")
def redemption_side_effects_due() -> int:
    from perks.vouchers.services.side_effects import redemption_side_effects_due as apply_due

    return apply_due()


@task("vouchers.reversal_side_effects")
def reversal_side_effects(reversal_id: int) -> bool:
    from perks.vouchers.services.side_effects import reversals_side_effects_apply

    return reversals_side_effects_apply(reversal_ids=[reversal_id]) == 1


@task("vouchers.reversal_side_effects_due")
def reversal_side_effects_due() -> int:
    from perks.vouchers.services.side_effects import reversal_side_effects_due as apply_due

    return apply_due()


@task("vouchers.expire_due")
def expire_due() -> int:
    from perks.vouchers.services.lifecycle import vouchers_expire_due

    return vouchers_expire_due()


@task("vouchers.reservations_expire_due")
def reservations_expire_due() -> int:
    from perks.vouchers.services.lifecycle import reservations_expire_due as expire

    return expire()


@task("vouchers.redemption_batch_apply")
def redemption_batch_apply(batch_id: int, actor_kind: str, actor_id: int) -> str:
    from perks.vouchers.services.batches import redemption_batch_actor
    from perks.vouchers.services.batches import redemption_batch_apply as apply

    actor = redemption_batch_actor(kind=actor_kind, actor_id=actor_id)
    return apply(batch_id=batch_id, actor=actor).status


@task("vouchers.redemption_batches_due")
def redemption_batches_due() -> int:
    from perks.vouchers.services.batches import redemption_batches_due as apply_due

    return apply_due()


@task("vouchers.rollup_recount_recent")
def rollup_recount_recent() -> int:
    from perks.vouchers.services.rollup import rollup_recount_recent as recount

    return recount()
