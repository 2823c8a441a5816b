"""`PartnerView`: the one base of every partner API view.

A view that subclasses it is authenticated by API key, rate limited per key, parses
strict JSON, answers errors in the envelope, documents them in the schema, and is
idempotent on POST without doing anything: its `post` is wrapped as the class is made.
It must say which scope its writes need (`write_scope`, a Scope or None), or the class
is refused when the module is imported.
"""

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.errors import DomainError, Invalid
from loyalty.members.models import Member
from loyalty.members.services import member_lookup_record
from perks.merchants.models import ApiKey, Merchant
from surfaces.api.auth import ApiKeyAuthentication, KeyRequired, WriteScopeRequired
from surfaces.api.idempotency import idempotent
from surfaces.api.members import member_resolve
from surfaces.api.pagination import page_of
from surfaces.api.parsers import StrictJSONParser
from surfaces.api.schema import PartnerAutoSchema
from surfaces.api.throttling import KeyRateThrottle

WRITE_METHODS = ("post", "put", "patch", "delete")


class _Undeclared:
    def __repr__(self) -> str:
        return "undeclared"


UNDECLARED: Any = _Undeclared()


class PartnerView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [KeyRequired, WriteScopeRequired]
    throttle_classes = [KeyRateThrottle]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    metadata_class = None  # no OPTIONS introspection: the schema describes the API
    schema = PartnerAutoSchema()

    # The scope every write method of the view needs; None when any key may (/validations).
    write_scope: ClassVar[str | None] = UNDECLARED
    # Domain errors each method may answer with, by method: documented in the schema.
    errors: ClassVar[dict[str, tuple[type[DomainError], ...]]] = {}
    # The query parameters the view reads; any other is refused, as unknown body fields are.
    query_params: ClassVar[tuple[str, ...]] = ()
    # Top-level fields of its answers that are shown once: an idempotent replay shows them null.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        writes = [method for method in WRITE_METHODS if callable(getattr(cls, method, None))]
        if writes and cls.write_scope is UNDECLARED:
            raise TypeError(f"{cls.__name__} writes ({', '.join(writes)}): declare its write_scope.")
        if "post" in cls.__dict__:
            cls.post = idempotent(cls.__dict__["post"])  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - set(self.query_params))
        if unknown:
            raise Invalid(f"Unknown query parameter {unknown[0]!r}.", param=unknown[0])

    # Members this request looked up, with why, and whether a success is recorded here too
    # (not when the service records it): recorded for them once the response is settled.
    _looked_up: tuple[tuple[Member, str, bool], ...] = ()

    @property
    def api_key(self) -> ApiKey:
        key = self.request.auth
        assert isinstance(key, ApiKey), "permission_classes let no request through without a key"
        return key

    @property
    def merchant(self) -> Merchant:
        return self.api_key.merchant

    def member_from(
        self, data: Mapping[str, Any], *, purpose: str, service_records_success: bool = False
    ) -> Member:
        """The member a `MemberInput` body names, to this key's merchant (a ref needs the
        member's link with it; a pass makes one); the look-up goes on the member's record
        (`purpose` is a LookupPurpose), whether the request then succeeds or is refused.
        `service_records_success`: the service called records a successful look-up itself
        (in its transaction), so only a refusal is recorded here."""
        member = member_resolve(
            merchant=self.merchant, member=data.get("member"), member_pass=data.get("member_pass")
        )
        self.member_looked_up(member, purpose=purpose, on_success=not service_records_success)
        return member

    def member_looked_up(self, member: Member, *, purpose: str, on_success: bool = True) -> None:
        """Put a look-up of `member` on their record once the response is settled (on a
        success too unless `on_success` is False)."""
        self._looked_up = (*self._looked_up, (member, purpose, on_success))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers carry voucher codes, members' refs and once-shown secrets: no cache keeps them.
        response["Cache-Control"] = "no-store"
        if response.status_code < 500:
            for member, purpose, on_success in self._looked_up:
                if not on_success and response.status_code < 400:
                    continue
                member_lookup_record(
                    member=member,
                    merchant_ref=self.merchant.ref,
                    merchant_name=self.merchant.name,
                    purpose=purpose,
                )
        return response

    def page_response(
        self,
        queryset: QuerySet[Any],
        serializer: type[serializers.Serializer],
        **page_options: Any,
    ) -> Response:
        """`{"data": [...], "has_more": ...}` for one page of `queryset` (see pagination)."""
        page = page_of(queryset, self.request.query_params, **page_options)
        return Response(
            {"data": [rendered(serializer, item) for item in page.items], "has_more": page.has_more}
        )


def parsed(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request body validated by `serializer` (400 `validation_error` naming the field)."""
    return dict(_of_thread(serializer).run_validation(request.data))


def rendered(serializer: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """`instance` as `serializer` represents it."""
    return dict(_of_thread(serializer).to_representation(instance))


class _ThreadSerializers(threading.local):
    def __init__(self) -> None:
        self.made: dict[type[serializers.Serializer], serializers.Serializer] = {}


_THREAD_SERIALIZERS = _ThreadSerializers()


def _of_thread(serializer: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance of `serializer` a thread, made once: DRF deep-copies every declared field
    each time a serializer is made (a third of what a redemption spent in DRF), while
    validating or representing through the instance leaves nothing on it."""
    made = _THREAD_SERIALIZERS.made
    found = made.get(serializer)
    if found is None:
        found = made[serializer] = serializer()
    return found
