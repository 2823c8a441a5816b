"""Webhook secrets at rest: the column holds a token, signing still uses the secret, keys
rotate, and the migration encrypts the rows an older schema kept in clear (and back)."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from loyalty.core.crypto import decrypt
from perks.merchants.models import WebhookEndpoint
from perks.merchants.services import webhook_endpoint_create
from tests.factories import MerchantFactory, StaffFactory
from tests.perks.merchants.test_webhook_delivery import attempt_now, emit_one, endpoint_for, verify_signature
from tests.support.migrations import migrate_to
from tests.support.receiver import Receiver

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BEFORE_ENCRYPTION = ("merchants", "0003_keys_unique_by_constraint")
ENCRYPTED = ("merchants", "0004_webhook_secrets_encrypted")


def stored_secret(endpoint: WebhookEndpoint) -> str:
    """The column as the database holds it, past the model field."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM merchants_webhookendpoint WHERE id = %s", [endpoint.pk])
        (value,) = cursor.fetchone()
    return value


def created_endpoint():
    merchant = MerchantFactory.create()
    owner = StaffFactory.create(merchant=merchant).user
    return webhook_endpoint_create(
        merchant=merchant, actor=owner, url="https://pos.example.com/hooks", event_types=["voucher.redeemed"]
    )


@pytest.mark.django_db
def test_the_column_holds_a_token_that_only_the_keys_open(settings):
    settings.ENCRYPTION_KEYS = [NEW]
    created = created_endpoint()

    stored = stored_secret(created.endpoint)

    assert created.secret not in stored
    assert Fernet(NEW).decrypt(stored.encode()).decode() == created.secret
    assert WebhookEndpoint.objects.get(pk=created.endpoint.pk).secret == created.secret


@pytest.mark.django_db
def test_the_secret_cannot_be_searched_for_as_no_two_tokens_are_alike():
    created = created_endpoint()

    with pytest.raises(Exception, match="Unsupported lookup"):
        WebhookEndpoint.objects.filter(secret=created.secret).exists()


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_decrypted_secret():
    with Receiver([200]).running() as receiver:
        created = endpoint_for(receiver)
        _, delivery = emit_one(created)
        attempt_now(delivery)  # reads the endpoint afresh, from its encrypted column

    (request,) = receiver.received
    assert verify_signature(request.headers["Perkline-Signature"], request.body, created.secret)


@pytest.mark.django_db
def test_rotating_encrypts_every_row_again_with_the_newest_key(settings):
    settings.ENCRYPTION_KEYS = [OLD]
    endpoints = [created_endpoint() for _ in range(3)]
    settings.ENCRYPTION_KEYS = [NEW, OLD]

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    assert "merchants.WebhookEndpoint: 3 encrypted again" in out.getvalue()
    settings.ENCRYPTION_KEYS = [NEW]  # the old key may now go
    for created in endpoints:
        assert decrypt(stored_secret(created.endpoint)) == created.secret
        assert WebhookEndpoint.objects.get(pk=created.endpoint.pk).secret == created.secret


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_secrets_kept_in_clear_and_back():
    created = created_endpoint()
    try:
        migrate_to(BEFORE_ENCRYPTION)
        assert stored_secret(created.endpoint) == created.secret

        migrate_to(ENCRYPTED)
        assert created.secret not in stored_secret(created.endpoint)
        assert decrypt(stored_secret(created.endpoint)) == created.secret
    finally:
        migrate_to()  # every app at its latest again, for the tests after this one
