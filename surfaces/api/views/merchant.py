from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from perks.merchants.models import Category
from surfaces.api.views.base import PartnerView, rendered


class MerchantSerializer(serializers.Serializer):
    id = serializers.CharField(source="ref", read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(choices=Category.choices, read_only=True)


class MerchantView(PartnerView):
    @extend_schema(
        responses=MerchantSerializer,
        examples=[
            OpenApiExample(
                "A car rental merchant",
                value={
                    "id": "mch_8k2m4q6s8v0x2z4b6d8f",
                    "name": "Jade Road Car Rental",
                    "slug": "jade-road-car-rental",
                    "category": "car_rental",
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        """The merchant this API key belongs to."""
        return Response(rendered(MerchantSerializer, self.merchant))
