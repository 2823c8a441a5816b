from loyalty.core.tasks import task


@task("members.purge_passes")
def purge_passes() -> int:
    from loyalty.members.services import member_passes_purge

    return member_passes_purge()
