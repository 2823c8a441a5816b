"""The operator console: vouchers browsed and found by code; revoked through the service."""

import pytest
from django.urls import reverse

from loyalty.points.selectors import points_balance
from perks.catalog.models import Perk
from perks.merchants.models import AuditEntry
from perks.vouchers.codes import code_format
from perks.vouchers.models import VoucherStatus
from perks.vouchers.services import voucher_claim, voucher_issue, voucher_redeem
from tests.perks.vouchers.conftest import grant

pytestmark = pytest.mark.django_db


def test_a_voucher_is_found_by_its_code_however_typed(admin_client, perk, member, owner):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    voucher_issue(perk=perk, member=member, actor=owner)

    response = admin_client.get(
        reverse("admin:vouchers_voucher_changelist"), {"q": code_format(voucher.code).lower()}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [voucher]


def test_every_voucher_page_opens(admin_client, merchant, perk, member, owner, key):
    voucher = voucher_issue(perk=perk, member=member, actor=owner)
    redemption = voucher_redeem(merchant=merchant, actor=key, code=voucher.code)

    for name, args in [
        ("admin:vouchers_voucher_changelist", []),
        ("admin:vouchers_voucher_change", [voucher.pk]),
        ("admin:vouchers_redemption_changelist", []),
        ("admin:vouchers_redemption_change", [redemption.pk]),
        ("admin:vouchers_reservation_changelist", []),
        ("admin:vouchers_redemptionreversal_changelist", []),
    ]:
        assert admin_client.get(reverse(name, args=args)).status_code == 200, name


def test_revoking_from_the_console_goes_through_the_service(admin_client, admin_user, perk, member):
    Perk.objects.filter(pk=perk.pk).update(points_cost=50)
    grant(member, 100)
    voucher = voucher_claim(perk=perk, member=member, idempotency_key="k")

    response = admin_client.post(
        reverse("admin:vouchers_voucher_changelist"),
        {"action": "revoke", "_selected_action": [voucher.pk]},
    )

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.REVOKED
    assert points_balance(member=member) == 100
    assert AuditEntry.objects.get(action="voucher.revoked").actor_user == admin_user


def test_what_the_console_records_of_a_voucher_never_holds_its_code(admin_client, perk, member, owner):
    """A voucher's name is what Django's history, messages and log lines carry."""
    voucher = voucher_issue(perk=perk, member=member, actor=owner)

    response = admin_client.post(
        reverse("admin:vouchers_voucher_changelist"),
        {"action": "revoke", "_selected_action": [voucher.pk]},
        follow=True,
    )

    said = [str(message) for message in response.context["messages"]]
    assert said
    assert str(voucher) == f"#{voucher.pk} {voucher.code[:4]}…"
    assert not [text for text in [*said, str(voucher)] if voucher.code in text]
