"""The member most app tests act as, and a client signed in as them. A test file that needs
a member with more (a name, points, consents) defines its own `member`."""

import pytest

from tests.factories import JoinedMemberFactory


@pytest.fixture
def member():
    return JoinedMemberFactory.create()


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client
