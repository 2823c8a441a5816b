"""Background work of vouchers. Each task takes ids, calls one service, and is safe to run
twice. Services enqueue these, so the services are imported inside the tasks."""

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from celery import shared_task
from celery.contrib.django.task import DjangoTask

P = ParamSpec("P")
R = TypeVar("R")


def _task(name: str) -> Callable[[Callable[P, R]], DjangoTask[P, R]]:
    """`shared_task`, typed as the app's task class (PerklineTask) really is."""
    return cast(Callable[[Callable[P, R]], DjangoTask[P, R]], shared_task(name=name))


@_task("vouchers.redemption_side_effects_due")
def redemption_side_effects_due() -> int:
    from perks.vouchers.services.side_effects import redemption_side_effects_due as apply_due

    return apply_due()


@_task("vouchers.reversal_side_effects")
def reversal_side_effects(reversal_id: int) -> bool:
    from perks.vouchers.services.side_effects import reversal_side_effects_apply

    return reversal_side_effects_apply(reversal_id=reversal_id)


@_task("vouchers.expire_due")
def expire_due() -> int:
    from perks.vouchers.services.lifecycle import vouchers_expire_due

    return vouchers_expire_due()


@_task("vouchers.reservations_expire_due")
def reservations_expire_due() -> int:
    from perks.vouchers.services.lifecycle import reservations_expire_due as expire

    return expire()


@_task("vouchers.redemption_batch_apply")
def redemption_batch_apply(batch_id: int, actor_kind: str, actor_id: int) -> str:
    from perks.vouchers.batches import redemption_batch_actor
    from perks.vouchers.batches import redemption_batch_apply as apply

    actor = redemption_batch_actor(kind=actor_kind, actor_id=actor_id)
    return apply(batch_id=batch_id, actor=actor).status
