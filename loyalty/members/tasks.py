from loyalty.core.tasks import task


@task("members.purge_passes")
def purge_passes() -> int:
    from loyalty.members.services import member_passes_purge

    return member_passes_purge()


@task("members.erase_due")
def erase_due() -> int:
    from loyalty.members.services import members_erase_due

    return members_erase_due()
