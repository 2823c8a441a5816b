"""Deposits' client secrets at rest: the column holds a token, Python the secret, the key
rotation finds the column, and the migration encrypts the secrets an older schema kept in
clear (and back), against a real localstripe."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from loyalty.core.crypto import decrypt
from perks.billing.models import Deposit, DepositStatus
from perks.billing.services import deposit_create
from perks.merchants.models import Merchant
from tests.support.migrations import migrate_to

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BEFORE_ENCRYPTION = ("billing", "0002_billing_notice_due")
ENCRYPTED = ("billing", "0003_deposit_client_secret_encrypted")


def stored_secret(deposit: Deposit) -> str:
    """The column as the database holds it, past the model field."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM billing_deposit WHERE id = %s", [deposit.pk])
        (value,) = cursor.fetchone()
    return value


def pending(merchant: Merchant, key, member) -> Deposit:
    """A deposit waiting for the member to save a card, with the SetupIntent's secret."""
    deposit = deposit_create(merchant=merchant, actor=key, member=member, amount="300.00", currency="CNY")
    assert deposit.status == DepositStatus.REQUIRES_PAYMENT_METHOD
    assert deposit.client_secret.startswith(deposit.setup_intent_id)
    return deposit


@pytest.mark.django_db
def test_the_column_holds_a_token_that_only_the_keys_open(settings, profile, merchant, key, member):
    settings.ENCRYPTION_KEYS = [NEW]
    deposit = pending(merchant, key, member)

    stored = stored_secret(deposit)

    assert deposit.client_secret not in stored
    assert Fernet(NEW).decrypt(stored.encode()).decode() == deposit.client_secret
    assert Deposit.objects.get(pk=deposit.pk).client_secret == deposit.client_secret


@pytest.mark.django_db
def test_an_empty_secret_is_kept_as_a_token_too_and_reads_back_empty(merchant, key, member, waiver):
    waived = deposit_create(merchant=merchant, actor=key, member=member, amount="300.00", currency="CNY")

    assert waived.status == DepositStatus.WAIVED
    assert Deposit.objects.get(pk=waived.pk).client_secret == ""
    assert decrypt(stored_secret(waived)) == ""


@pytest.mark.django_db
def test_rotating_encrypts_every_deposit_again_with_the_newest_key(settings, profile, merchant, key, member):
    settings.ENCRYPTION_KEYS = [OLD]
    deposits = [pending(merchant, key, member) for _ in range(2)]
    settings.ENCRYPTION_KEYS = [NEW, OLD]

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    assert "billing.Deposit: 2 encrypted again" in out.getvalue()
    settings.ENCRYPTION_KEYS = [NEW]  # the old key may now go
    for deposit in deposits:
        assert decrypt(stored_secret(deposit)) == deposit.client_secret
        assert Deposit.objects.get(pk=deposit.pk).client_secret == deposit.client_secret


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_secrets_kept_in_clear_and_back(profile, merchant, key, member, waiver):
    waived = deposit_create(merchant=merchant, actor=key, member=member, amount="300.00", currency="CNY")
    asked = pending(merchant, key, member)
    try:
        migrate_to(BEFORE_ENCRYPTION)
        assert (stored_secret(waived), stored_secret(asked)) == ("", asked.client_secret)

        migrate_to(ENCRYPTED)
        assert asked.client_secret not in stored_secret(asked)
        assert decrypt(stored_secret(asked)) == asked.client_secret
        assert Deposit.objects.get(pk=waived.pk).client_secret == ""  # the empty ones are tokens too
    finally:
        migrate_to()  # every app at its latest again, for the tests after this one
