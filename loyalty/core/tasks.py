from celery import shared_task


@shared_task(name="core.ping", acks_late=False, max_retries=0, ignore_result=False)
def ping(token: str) -> str:
    """Echo the token: proof that a worker took a message off the broker and answered."""
    return token
