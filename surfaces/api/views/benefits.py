from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.members.errors import MemberNotFound
from loyalty.members.models import LookupPurpose
from perks.catalog.models import PerkType
from perks.catalog.money import purchase_parse
from perks.vouchers.member_benefits import benefits_of_member
from surfaces.api.members import MemberInput
from surfaces.api.serializers import AmountField, BenefitField, CurrencyField, VoucherCodeField
from surfaces.api.views.base import PartnerView, parsed, rendered


class BenefitsQuerySerializer(MemberInput):
    amount = AmountField(required=False, help_text="The purchase or deposit to compute the values for.")
    currency = CurrencyField(required=False, help_text="The amount's currency; needed with amount.")


class BenefitsMemberSerializer(serializers.Serializer):
    ref = serializers.CharField(read_only=True)
    tier = serializers.CharField(read_only=True, help_text="The member's tier slug.")


class PerkBenefitSerializer(serializers.Serializer):
    perk = serializers.CharField(source="perk.ref", read_only=True)
    type = serializers.ChoiceField(source="perk.type", choices=PerkType.choices, read_only=True)
    title = serializers.CharField(source="perk.title", read_only=True)
    applies = serializers.BooleanField(
        read_only=True,
        help_text=(
            "False when the amount's currency is not the perk's: its computed value is then null, "
            "as Perkline does not convert currencies."
        ),
    )
    voucher = VoucherCodeField(
        source="voucher.code",
        allow_null=True,
        read_only=True,
        help_text="The member's voucher of this perk with the most uses left, if they hold one.",
    )
    benefit = BenefitField(read_only=True)


class MemberBenefitsSerializer(serializers.Serializer):
    member = BenefitsMemberSerializer(read_only=True)
    benefits = PerkBenefitSerializer(many=True, read_only=True)


class BenefitsView(PartnerView):
    write_scope = None  # a question, not a write: any key may ask
    errors = {"post": (MemberNotFound,)}

    @extend_schema(
        request=BenefitsQuerySerializer,
        responses={200: MemberBenefitsSerializer},
        examples=[
            OpenApiExample(
                "A deposit of 3,000 CNY for a member's pass",
                request_only=True,
                value={
                    "member_pass": "mp1.eyJtIjoibWVtXzdkMms5cTR4MW04djNiNm4wcjV0In0.sig",  # nosec B105  # a made-up example for the API docs
                    "amount": "3000.00",
                    "currency": "CNY",
                },
            ),
            OpenApiExample(
                "The deposit is waived",
                response_only=True,
                status_codes=[200],
                value={
                    "member": {"ref": "mem_7d2k9q4x1m8v3b6n0r5t", "tier": "excellent"},
                    "benefits": [
                        {
                            "perk": "prk_0a2c4e6g8j0m2p4r6t8w",
                            "type": "deposit_waiver",
                            "title": "Rent without a deposit (up to 5,000 CNY)",
                            "applies": True,
                            "voucher": "7K3M-9QXD-2RT4-8",
                            "benefit": {
                                "type": "deposit_waiver",
                                "currency": "CNY",
                                "waived_amount": "3000.00",
                                "max_amount": "5000.00",
                            },
                        }
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """What this merchant's perks give the member now: the perks they qualify for, each
        with its value computed for the amount given, and the voucher to redeem if they hold one.
        A perk in another currency than the amount's is listed with `applies: false`. A member
        named by ref must have a link with you (404 otherwise); showing their pass makes one."""
        data = parsed(BenefitsQuerySerializer, request)
        # A malformed purchase is refused before anyone is looked up.
        amount, currency = purchase_parse(data.get("amount"), data.get("currency"))
        member = self.member_from(data, purpose=LookupPurpose.BENEFITS)
        found = benefits_of_member(merchant=self.merchant, member=member, amount=amount, currency=currency)
        body: dict[str, Any] = {
            "member": {"ref": member.ref, "tier": found.tier.slug},
            "benefits": found.benefits,
        }
        return Response(rendered(MemberBenefitsSerializer, body))
