from django.db import models
from django.db.models import Q
from django.utils import timezone

from perks.merchants.models import Merchant


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key, replayed for 24 hours.

    `request_hash` is the SHA-256 of the method, the path and the canonical JSON body: a
    repeat with another one is refused. Rows are written in the transaction of the work
    they answer for, and purged by beat once they are past the replay window.
    """

    # Led by the (merchant, key) constraint's index instead of its own.
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=8)
    request_path = models.TextField()
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique_per_merchant"),
            # 5xx are never kept, so that a retry after a failure on our side can succeed.
            models.CheckConstraint(
                condition=Q(response_status__gte=100, response_status__lt=500),
                name="idempotency_response_not_a_server_error",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_method} {self.request_path} [{self.key}] -> {self.response_status}"
