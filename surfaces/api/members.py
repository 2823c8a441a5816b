"""Naming a member in a request: by ref (`member`) or by the pass they show (`member_pass`).

Every look-up is recorded for the member, with its purpose, through the members app: the
member reads who looked them up, why and when. The view resolves the member with
`PartnerView.member_from`; the record is written once the response is settled (after
the work, whether it succeeded or was refused, but not for a 5xx), so a refusal that
still told the partner something about the member is on the member's record too.
"""

from typing import Any

from rest_framework import serializers

from loyalty.members.models import Member
from loyalty.members.selectors import member_by_ref
from loyalty.members.services import member_pass_verify
from surfaces.api.serializers import InputSerializer

MEMBER_PASS_MAX_LENGTH = 512


class MemberInput(InputSerializer):
    """A body that names one member: `member` (a `mem_…` ref) or `member_pass`, not both."""

    member = serializers.CharField(max_length=64, required=False, help_text="The member's ref, mem_…")
    member_pass = serializers.CharField(
        max_length=MEMBER_PASS_MAX_LENGTH,
        required=False,
        help_text="The token of the member pass the member shows (its QR code), instead of member.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("member" in attrs) == ("member_pass" in attrs):
            raise serializers.ValidationError(
                {"member": ["Name the member by member or by member_pass, once."]}
            )
        return attrs


def member_resolve(*, member: str | None = None, member_pass: str | None = None) -> Member:
    """The member a `MemberInput` named: 404 for an unknown ref, 400 for a bad pass."""
    if member_pass is not None:
        return member_pass_verify(token=member_pass)
    return member_by_ref(member or "")
