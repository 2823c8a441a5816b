"""Campaigns: one perk to every eligible member of an audience, issued in the background."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.scoring.models import SCORE_MAX, SCORE_MIN
from perks.billing.errors import MerchantBillingPaused
from perks.catalog.errors import PerkInactive, PerkNotFound
from perks.catalog.selectors import perk_by_ref
from perks.merchants.permissions import Scope
from perks.vouchers.campaigns.selectors import campaign_by_ref, campaign_progress
from perks.vouchers.campaigns.services import campaign_create
from perks.vouchers.models import CampaignStatus
from surfaces.api.serializers import InputSerializer, StrictCharField
from surfaces.api.views.base import PartnerView, parsed, rendered

_CAMPAIGN_ID = "cmp_1c3e5g7j9m1p3r5t7w9y"


class AudienceSerializer(InputSerializer):
    min_tier = StrictCharField(max_length=32, required=False, help_text="A tier slug, such as gold.")
    min_score = serializers.IntegerField(min_value=SCORE_MIN, max_value=SCORE_MAX, required=False)


class CampaignCreateSerializer(InputSerializer):
    perk = StrictCharField(max_length=64, help_text="One of your live perks, prk_…")
    audience = AudienceSerializer(help_text="Members at or above min_tier and/or min_score.")


class CampaignAcceptedSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    total = serializers.IntegerField(read_only=True, help_text="Members in the audience, once counted.")
    issued = serializers.IntegerField(read_only=True, help_text="Vouchers issued so far.")


class CampaignSerializer(CampaignAcceptedSerializer):
    skipped = serializers.IntegerField(
        read_only=True, help_text="Members of the audience the perk's rules left out (hold, limit)."
    )


class CampaignsView(PartnerView):
    write_scope = Scope.VOUCHERS_WRITE
    errors = {"post": (PerkNotFound, PerkInactive, MerchantBillingPaused)}

    @extend_schema(
        request=CampaignCreateSerializer,
        responses={202: CampaignAcceptedSerializer},
        examples=[
            OpenApiExample(
                "Gold and above",
                request_only=True,
                value={"perk": "prk_0a2c4e6g8j0m2p4r6t8w", "audience": {"min_tier": "gold"}},
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=[202],
                value={"id": _CAMPAIGN_ID, "status": "pending", "total": 0, "issued": 0},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Issue one voucher of a perk to every eligible member of an audience, in the
        background; follow it at GET /campaigns/{id}."""
        data = parsed(CampaignCreateSerializer, request)
        perk = perk_by_ref(merchant=self.merchant, ref=data["perk"])
        campaign = campaign_create(merchant=self.merchant, actor=self.api_key, perk=perk, **data["audience"])
        return Response(rendered(CampaignAcceptedSerializer, campaign), status=status.HTTP_202_ACCEPTED)


class CampaignView(PartnerView):
    @extend_schema(
        responses=CampaignSerializer,
        examples=[
            OpenApiExample(
                "Half way",
                value={
                    "id": _CAMPAIGN_ID,
                    "status": "running",
                    "total": 12000,
                    "issued": 5870,
                    "skipped": 130,
                },
            )
        ],
    )
    def get(self, request: Request, campaign_id: str) -> Response:
        """A campaign's progress, for a progress bar."""
        campaign = campaign_by_ref(merchant=self.merchant, ref=campaign_id)
        return Response(rendered(CampaignSerializer, campaign_progress(campaign=campaign)))
