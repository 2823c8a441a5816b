import pytest

from loyalty.points.models import PlatformAccount
from loyalty.points.services import platform_account, points_post, wallet_for_member
from perks.merchants.permissions import Scope
from perks.merchants.services import api_key_create
from perks.vouchers.services import voucher_issue
from tests.factories import JoinedMemberFactory, MerchantFactory, PerkFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory.create(name="Blue Bottle")


@pytest.fixture
def key(merchant, owner):
    return api_key_create(merchant=merchant, actor=owner, name="Till 1", scopes=Scope.values).key


@pytest.fixture
def member(db):
    return JoinedMemberFactory.create()


@pytest.fixture
def perk(merchant):
    return PerkFactory.create(merchant=merchant, title="Free coffee")


@pytest.fixture
def voucher(perk, member, owner):
    """A voucher of `perk` the merchant gave `member`."""
    return voucher_issue(perk=perk, member=member, actor=owner)


def grant(member, points, key=None):
    """Points into the member's wallet, as an operator's adjustment would."""
    return points_post(
        idempotency_key=key or f"grant-{member.pk}-{points}",
        postings=[
            (wallet_for_member(member_id=member.pk), points),
            (platform_account(platform=PlatformAccount.ISSUANCE), -points),
        ],
        reason_code="adjustment",
        reason_params={"note": "test grant"},
        actor="operator:test",
    )
