from loyalty.core.tasks import task


@task("api.idempotency_records_purge")
def idempotency_records_purge() -> int:
    from surfaces.api.idempotency import idempotency_records_purge as purge

    return purge()
