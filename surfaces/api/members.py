"""Naming a member in a request: by ref (`member`) or by the pass they show (`member_pass`).

A merchant names a member by ref only through a link the member made with it: a ref with
no active link is as unknown as one that names nobody, so no key learns who exists.
Showing the pass is such a link: it starts one with the key's merchant.

Every look-up is recorded for the member, with its purpose, through the members app: the
member reads who looked them up, why and when. The view resolves the member with
`PartnerView.member_from`; the record is written once the response is settled (after
the work, whether it succeeded or was refused, but not for a 5xx), so a refusal that
still told the partner something about the member is on the member's record too.
"""

from typing import Any

from rest_framework import serializers

from loyalty.members.models import Member
from loyalty.members.selectors import member_linked_by_ref
from loyalty.members.services import member_pass_show
from perks.merchants.models import Merchant
from surfaces.api.serializers import InputSerializer, StrictCharField

MEMBER_PASS_MAX_LENGTH = 512


class MemberInput(InputSerializer):
    """A body that names one member: `member` (a `mem_…` ref) or `member_pass`, not both."""

    member = StrictCharField(max_length=64, required=False, help_text="The member's ref, mem_…")
    member_pass = StrictCharField(
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


def member_resolve(
    *, merchant: Merchant, member: str | None = None, member_pass: str | None = None
) -> Member:
    """The member a `MemberInput` named to `merchant`: 404 for a ref with no active link
    with it (or none at all), 400 for a bad pass; a good pass links the member."""
    if member_pass is not None:
        return member_pass_show(token=member_pass, merchant_ref=merchant.ref, merchant_name=merchant.name)
    return member_linked_by_ref(ref=member or "", merchant_ref=merchant.ref)
