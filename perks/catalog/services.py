"""Creating and changing perks, moving them through their states, and taking inventory."""

from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from loyalty.core.errors import Invalid
from loyalty.scoring.models import SCORE_MAX, SCORE_MIN, Tier
from perks.catalog.errors import InventoryExhausted, PerkArchived, PerkTransitionNotAllowed
from perks.catalog.models import LimitPeriod, Perk, PerkStatus, PerkType
from perks.catalog.params import AccessPassParams, params_as_json, params_parse
from perks.catalog.rules import perk_transition_allowed
from perks.merchants import images
from perks.merchants.models import Merchant
from perks.merchants.permissions import Permission
from perks.merchants.services import Actor, actor_require, audit_record
from perks.merchants.tasks import image_files_delete, image_renditions_make

# The fields a perk may change after it is made, in the order a person fills them in.
EDITABLE_FIELDS = (
    "title",
    "description",
    "title_zh",
    "description_zh",
    "params",
    "min_tier",
    "min_score",
    "hold_free_days",
    "points_cost",
    "valid_from",
    "valid_until",
    "inventory",
    "per_member_limit",
    "limit_period",
    "uses_per_voucher",
    "voucher_ttl_days",
    "auto_issue",
)
MAX_HOLD_FREE_DAYS = 730
MAX_POINTS_COST = 10_000_000
MAX_INVENTORY = 100_000_000
MAX_USES_PER_VOUCHER = 1000
MAX_VOUCHER_TTL_DAYS = 3650
CREATABLE_STATUSES = (PerkStatus.DRAFT, PerkStatus.ACTIVE)


def perk_create(
    *,
    merchant: Merchant,
    actor: Actor,
    type: str,
    title: str,
    params: Mapping[str, Any],
    description: str = "",
    title_zh: str = "",
    description_zh: str = "",
    min_tier: str | None = None,
    min_score: int | None = None,
    hold_free_days: int | None = None,
    points_cost: int = 0,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    inventory: int | None = None,
    per_member_limit: int | None = None,
    limit_period: str = LimitPeriod.LIFETIME,
    uses_per_voucher: int | None = None,
    voucher_ttl_days: int = 30,
    auto_issue: bool = False,
    status: str = PerkStatus.DRAFT,
) -> Perk:
    """A new perk of `merchant`. `min_tier` is a tier slug; `uses_per_voucher` defaults to 1
    (for an access pass, to its entries)."""
    actor_require(actor=actor, merchant=merchant, permission=Permission.PERKS_MANAGE)
    if status not in CREATABLE_STATUSES:
        raise Invalid("A new perk starts as draft or active.", param="status")
    values = _clean(
        type,
        {
            "title": title,
            "description": description,
            "title_zh": title_zh,
            "description_zh": description_zh,
            "params": params,
            "min_tier": min_tier,
            "min_score": min_score,
            "hold_free_days": hold_free_days,
            "points_cost": points_cost,
            "valid_from": valid_from or timezone.now(),
            "valid_until": valid_until,
            "inventory": inventory,
            "per_member_limit": per_member_limit,
            "limit_period": limit_period,
            "uses_per_voucher": uses_per_voucher,
            "voucher_ttl_days": voucher_ttl_days,
            "auto_issue": auto_issue,
        },
    )
    with transaction.atomic():
        perk = Perk.objects.create(merchant=merchant, type=type, status=status, **values)
        audit_record(
            merchant=merchant, actor=actor, action="perk.created", target=perk.ref, params={"status": status}
        )
    return perk


def perk_update(*, perk: Perk, actor: Actor, changes: Mapping[str, Any]) -> Perk:
    """Change some of a perk's editable fields (its type never changes); archived perks are final."""
    actor_require(actor=actor, merchant=perk.merchant, permission=Permission.PERKS_MANAGE)
    unknown = sorted(set(changes).difference(EDITABLE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]} cannot be changed.", param=unknown[0])
    with transaction.atomic():
        current = Perk.objects.select_for_update(of=("self",)).select_related("min_tier").get(pk=perk.pk)
        if current.status == PerkStatus.ARCHIVED:
            raise PerkArchived()
        merged = {**_editable_values(current), **changes}
        cleaned = _clean(current.type, merged)
        if cleaned["inventory"] is not None and cleaned["inventory"] < current.issued_count:
            raise Invalid(
                f"Inventory cannot be less than the {current.issued_count} vouchers already issued.",
                param="inventory",
            )
        changed = {field: value for field, value in cleaned.items() if value != getattr(current, field)}
        if changed:
            # Only the changed columns: issued_count is the counters' alone.
            Perk.objects.filter(pk=perk.pk).update(**changed, updated_at=timezone.now())
            audit_record(
                merchant=perk.merchant,
                actor=actor,
                action="perk.updated",
                target=perk.ref,
                params={field: _audit_value(value) for field, value in changed.items()},
            )
    perk.refresh_from_db()
    return perk


def perk_transition(*, perk: Perk, actor: Actor, to: str) -> Perk:
    """Move a perk to `to` if its current state allows it (PERK_TRANSITIONS)."""
    actor_require(actor=actor, merchant=perk.merchant, permission=Permission.PERKS_MANAGE)
    if to not in PerkStatus.values:
        raise Invalid(f"Unknown status {to!r}; one of {', '.join(PerkStatus.values)}.", param="status")
    now = timezone.now()
    with transaction.atomic():
        current = Perk.objects.select_for_update(of=("self",)).get(pk=perk.pk)
        if not perk_transition_allowed(current.status, to):
            raise PerkTransitionNotAllowed(
                f"A perk that is {current.status} cannot become {to}.", param="status"
            )
        if to == PerkStatus.ACTIVE and current.valid_until is not None and current.valid_until <= now:
            raise Invalid("This perk's validity has ended; move valid_until first.", param="valid_until")
        Perk.objects.filter(pk=perk.pk).update(status=to, updated_at=now)
        audit_record(
            merchant=perk.merchant,
            actor=actor,
            action="perk.status_changed",
            target=perk.ref,
            params={"from": current.status, "to": to},
        )
    perk.status, perk.updated_at = to, now
    return perk


def perk_image_set(*, perk: Perk, actor: Actor, upload: IO[bytes] | bytes) -> Perk:
    actor_require(actor=actor, merchant=perk.merchant, permission=Permission.PERKS_MANAGE)
    clean = images.image_clean(upload, param="image")
    with transaction.atomic():
        previous = Perk.objects.select_for_update().values_list("image", flat=True).get(pk=perk.pk)
        name = images.image_store(clean=clean, directory=perk_image_directory(perk.ref))
        Perk.objects.filter(pk=perk.pk).update(image=name, updated_at=timezone.now())
        audit_record(merchant=perk.merchant, actor=actor, action="perk.image_set", target=perk.ref)
        image_renditions_make.delay_on_commit(name, "perk")
        if previous:
            image_files_delete.delay_on_commit(previous, "perk")
    perk.image.name = name
    return perk


def perk_image_directory(ref: str) -> str:
    """Where a perk's images are stored: its own folder, which holds nothing else."""
    return f"perks/{ref}"


def perk_images_sweep(*, now: datetime | None = None) -> images.Swept:
    """The renditions and deletions of perk images whose tasks a broker that was down never
    queued (perks.merchants.images.images_sweep)."""
    return images.images_sweep(
        owners=Perk.objects.all(), field="image", kind="perk", directory=perk_image_directory, now=now
    )


def perk_inventory_take(*, perk_id: int, count: int = 1) -> None:
    """Count `count` more vouchers against the perk's inventory, all or none; call it inside
    the transaction that issues them. A conditional UPDATE, so concurrent takers never
    overshoot (and the database's constraint backs it)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    with transaction.atomic():
        room = Q(inventory__isnull=True) | Q(issued_count__lte=F("inventory") - count)
        if not Perk.objects.filter(room, pk=perk_id).update(issued_count=F("issued_count") + count):
            raise InventoryExhausted()


def perk_inventory_take_up_to(*, perk_id: int, count: int) -> int:
    """Take as many as are left, up to `count`, and return how many (a campaign's chunk)."""
    with transaction.atomic():
        perk = Perk.objects.select_for_update(of=("self",)).only("inventory", "issued_count").get(pk=perk_id)
        taken = count if perk.inventory is None else max(0, min(count, perk.inventory - perk.issued_count))
        if taken:
            Perk.objects.filter(pk=perk_id).update(issued_count=F("issued_count") + taken)
    return taken


def _editable_values(perk: Perk) -> dict[str, Any]:
    values = {field: getattr(perk, field) for field in EDITABLE_FIELDS if field != "min_tier"}
    values["min_tier"] = perk.min_tier.slug if perk.min_tier else None
    return values


def _clean(perk_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field checked, and the rules between fields; returns model-ready values."""
    params = params_parse(perk_type, values["params"])
    cleaned: dict[str, Any] = {
        "title": _text(values["title"], "title", 120, required=True),
        "description": _text(values["description"], "description", 2000),
        "title_zh": _text(values["title_zh"], "title_zh", 120),
        "description_zh": _text(values["description_zh"], "description_zh", 2000),
        "params": params_as_json(params),
        "min_tier": _tier(values["min_tier"]),
        "min_score": _whole(values["min_score"], "min_score", SCORE_MIN, SCORE_MAX),
        "hold_free_days": _whole(values["hold_free_days"], "hold_free_days", 1, MAX_HOLD_FREE_DAYS),
        "points_cost": _whole(values["points_cost"], "points_cost", 0, MAX_POINTS_COST, required=True),
        "valid_from": _moment(values["valid_from"], "valid_from", required=True),
        "valid_until": _moment(values["valid_until"], "valid_until"),
        "inventory": _whole(values["inventory"], "inventory", 0, MAX_INVENTORY),
        "per_member_limit": _whole(values["per_member_limit"], "per_member_limit", 1, MAX_INVENTORY),
        "limit_period": _choice(values["limit_period"], "limit_period", LimitPeriod.values),
        "uses_per_voucher": _whole(values["uses_per_voucher"], "uses_per_voucher", 1, MAX_USES_PER_VOUCHER),
        "voucher_ttl_days": _whole(
            values["voucher_ttl_days"], "voucher_ttl_days", 1, MAX_VOUCHER_TTL_DAYS, required=True
        ),
        "auto_issue": _flag(values["auto_issue"], "auto_issue"),
    }
    if cleaned["min_tier"] is not None and cleaned["min_score"] is not None:
        raise Invalid("Set a minimum tier or a minimum score, not both.", param="min_score")
    if cleaned["valid_until"] is not None and cleaned["valid_until"] <= cleaned["valid_from"]:
        raise Invalid("valid_until must come after valid_from.", param="valid_until")
    if cleaned["auto_issue"] and cleaned["min_tier"] is None:
        raise Invalid(
            "Auto-issue sends the perk to members reaching a tier: set min_tier.", param="auto_issue"
        )
    cleaned["uses_per_voucher"] = _uses_per_voucher(perk_type, params, cleaned["uses_per_voucher"])
    return cleaned


def _uses_per_voucher(perk_type: str, params: Any, uses: int | None) -> int:
    """An access pass's entries are its voucher's uses: one number, never two that disagree."""
    if perk_type != PerkType.ACCESS_PASS:
        return uses or 1
    assert isinstance(params, AccessPassParams)
    if uses is not None and uses != params.entries_per_voucher:
        raise Invalid(
            "For an access pass, uses_per_voucher is its entries_per_voucher.", param="uses_per_voucher"
        )
    return params.entries_per_voucher


def _text(value: object, param: str, max_length: int, *, required: bool = False) -> str:
    text = "" if value is None else value
    if not isinstance(text, str):
        raise Invalid(f"{param} is text.", param=param)
    text = text.strip()
    if required and not text:
        raise Invalid(f"{param} is required.", param=param)
    if len(text) > max_length:
        raise Invalid(f"{param} is at most {max_length} characters.", param=param)
    return text


def _whole(value: object, param: str, low: int, high: int, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(f"{param} is a whole number from {low} to {high:,}.", param=param)
    return value


def _moment(value: object, param: str, *, required: bool = False) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise Invalid(f"{param} is a date and time with a time zone.", param=param)
    return value


def _choice(value: object, param: str, choices: list[str]) -> str:
    if value not in choices:
        raise Invalid(f"{param} is one of {', '.join(choices)}.", param=param)
    return str(value)


def _flag(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{param} is true or false.", param=param)
    return value


def _tier(slug: object) -> Tier | None:
    if slug is None or slug == "":
        return None
    tier = Tier.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if tier is None:
        slugs = ", ".join(Tier.objects.values_list("slug", flat=True))
        raise Invalid(f"Unknown tier {slug!r}; one of {slugs}.", param="min_tier")
    return tier


def _audit_value(value: object) -> object:
    return value.slug if isinstance(value, Tier) else value
