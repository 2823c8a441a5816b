"""Where every table of Perkline would live in a Citus cluster (docs/distribution.md).

Citus itself is not installed here. This declaration is what can be held to today:
tests/test_distribution.py checks that it names every table of every installed model, that
every unique key of a distributed table includes its distribution column or is an
exception below with how it will be enforced, that the redemption path's statements name
their distribution column, and that docs/distribution.md shows what is declared here.

The order of TABLES is the order of the Citus calls docs/distribution.md lists (the test
writes them from here and compares): reference tables first, then each colocation group
from its first table, every table after the tables its co-located foreign keys point at.
"""

from dataclasses import dataclass

MEMBER = "auth_user"  # the first table of the member-side group: a member's user comes first
MERCHANT = "catalog_perk"  # the first table of the merchant-side group


@dataclass(frozen=True)
class Reference:
    """Copied whole to every node: small, rarely written, read beside any shard."""

    reason: str


@dataclass(frozen=True)
class Distributed:
    """Hash-distributed on `column`, co-located with the group's first table `group`.

    `same_key`: foreign-key columns whose row carries the same distribution value as this
    one (a member's hold for an appeal of that member), which the migration makes composite.
    `added_from`: set when the table lacks `column` today: where the migration copies it
    from (one of `same_key`, or how it is found).
    """

    column: str
    group: str
    same_key: tuple[str, ...] = ()
    added_from: str = ""


@dataclass(frozen=True)
class Local:
    """Stays a plain table on the coordinator, never joined with a distributed table."""

    reason: str


Placement = Reference | Distributed | Local

_SMALL_RULES = "a few rows written by operators or migrations, read on every shard"


def _member(column: str = "member_id", *same_key: str, added_from: str = "") -> Distributed:
    return Distributed(column, MEMBER, same_key, added_from)


def _merchant(column: str = "merchant_id", *same_key: str, added_from: str = "") -> Distributed:
    return Distributed(column, MERCHANT, same_key, added_from)


TABLES: dict[str, Placement] = {
    # Reference tables, each after the reference tables it points at.
    "django_content_type": Reference("Django's model registry: a few dozen rows, joined by permissions"),
    "auth_permission": Reference("Django's permissions: fixed by migrations"),
    "auth_group": Reference("operator groups: a handful of rows"),
    "auth_group_permissions": Reference("the permissions of those groups"),
    "scoring_tier": Reference(f"the five score bands: {_SMALL_RULES}"),
    "scoring_eventkind": Reference(f"the score event kinds: {_SMALL_RULES}"),
    "points_earnrule": Reference(f"earn rule versions: {_SMALL_RULES}"),
    "points_tiermultiplier": Reference(f"tier multiplier versions: {_SMALL_RULES}"),
    "billing_planprice": Reference(f"the platform's plans: {_SMALL_RULES}"),
    "billing_redemptionfee": Reference(f"fees per perk type and plan: {_SMALL_RULES}"),
    "merchants_merchant": Reference(
        "one row per partner business (thousands, not millions), changed by onboarding and "
        "status changes only, and named beside both members' and merchants' rows"
    ),
    "merchants_apikey": Reference(
        "every API request finds its key by prefix before it knows the merchant; a few keys a "
        "merchant, written at issue, revocation and at most once a minute a key (last_used_at)"
    ),
    "billing_billingprofile": Reference(
        "one row per merchant, written by Stripe events; Stripe's webhooks find it by customer "
        "or connected account, which a reference table answers on any node"
    ),
    # The member side: everything about one member lives on that member's shard.
    MEMBER: _member("id"),
    "members_member": _member("id", "user_id"),
    "auth_user_groups": _member("user_id", "user_id"),
    "auth_user_user_permissions": _member("user_id", "user_id"),
    "django_admin_log": _member("user_id", "user_id"),
    "otp_totp_totpdevice": _member("user_id", "user_id"),
    "members_consent": _member("member_id", "member_id"),
    "members_consentchange": _member("member_id", "member_id"),
    "members_notification": _member("member_id", "member_id"),
    "members_memberlookup": _member("member_id", "member_id"),
    "members_memberpass": _member("member_id", "member_id"),
    "members_merchantlink": _member("member_id", "member_id"),
    "scoring_memberstanding": _member("member_id", "member_id"),
    "scoring_scoreevent": _member("member_id", "member_id"),
    "scoring_recomputerequest": _member("member_id", "member_id"),
    "scoring_scoresnapshot": _member("member_id", "member_id"),
    "scoring_tierchange": _member("member_id", "member_id"),
    "scoring_hold": _member("member_id", "member_id"),
    "scoring_holdappeal": _member("member_id", "hold_id", added_from="hold_id"),
    "scoring_holdauditentry": _member("member_id", "hold_id", added_from="hold_id"),
    "scoring_dispute": _member("member_id", "member_id", "event_id"),
    "scoring_disputechange": _member("member_id", "dispute_id", added_from="dispute_id"),
    "points_account": _member("member_id", "member_id"),
    "points_pointstransaction": _member(
        "member_id", "reverses_id", added_from="the member whose wallet the transaction moves"
    ),
    "points_posting": _member("member_id", "transaction_id", added_from="transaction_id"),
    "points_pointslot": _member("member_id", "account_id", added_from="account_id"),
    "points_lotmovement": _member("member_id", "transaction_id", "lot_id", added_from="transaction_id"),
    "billing_memberstripecustomer": _member("member_id", "member_id"),
    # The merchant side: a merchant's catalogue, vouchers, redemptions, webhooks and bills.
    MERCHANT: _merchant(),
    "merchants_location": _merchant(),
    "merchants_staff": _merchant(),
    "merchants_invitation": _merchant(),
    "merchants_webhookendpoint": _merchant(),
    "merchants_webhookevent": _merchant(),
    "merchants_webhookdelivery": _merchant("merchant_id", "event_id", "endpoint_id", added_from="event_id"),
    "merchants_webhookattempt": _merchant("merchant_id", "delivery_id", added_from="delivery_id"),
    "merchants_webhookattemptkey": _merchant("merchant_id", "delivery_id", added_from="delivery_id"),
    "merchants_auditentry": _merchant(),
    "vouchers_campaign": _merchant("merchant_id", "perk_id"),
    "vouchers_campaignchunk": _merchant("merchant_id", "campaign_id", added_from="campaign_id"),
    "vouchers_voucher": _merchant("merchant_id", "perk_id", "campaign_id"),
    "vouchers_reservation": _merchant("merchant_id", "voucher_id"),
    "vouchers_redemption": _merchant("merchant_id", "voucher_id", "reservation_id", "location_id"),
    "vouchers_redemptionreversal": _merchant("merchant_id", "redemption_id", added_from="redemption_id"),
    "vouchers_usagerecord": _merchant("merchant_id", "redemption_id"),
    "vouchers_usagekey": _merchant("merchant_id", "redemption_id", added_from="redemption_id"),
    "vouchers_redemptionbatch": _merchant(),
    "vouchers_redemptionbatchitem": _merchant(
        "merchant_id", "batch_id", "redemption_id", added_from="batch_id"
    ),
    "vouchers_perkday": _merchant("merchant_id", "perk_id", "location_id"),
    "vouchers_perkdaytotal": _merchant("merchant_id", "perk_id"),
    "vouchers_locationdaytotal": _merchant("merchant_id", "location_id"),
    "vouchers_merchantday": _merchant(),
    "billing_invoice": _merchant(),
    "billing_invoicerun": _merchant("merchant_id", "invoice_id"),
    "billing_deposit": _merchant("merchant_id", "redemption_id", "waived_by_id", "location_id"),
    "api_idempotencyrecord": _merchant(),
    # Tables keyed by something that is neither a member nor a merchant.
    "django_session": Distributed("session_key", "django_session"),
    "billing_stripeevent": Distributed("stripe_id", "billing_stripeevent"),
    # The unpartitioned keys of monthly-partitioned history (loyalty/core/partitioning),
    # each checked on the one shard its key hashes to.
    "scoring_eventkey": Distributed("source", "scoring_eventkey"),
    "members_notificationkey": Distributed("dedupe_key", "members_notificationkey"),
    # Plain tables on the coordinator.
    "axes_accessattempt": Local(
        "sign-in failures by username and address, a row or two a failing sign-in, read "
        "and written only by django-axes at sign-in, never joined with a distributed table"
    ),
    "axes_accessattemptexpiration": Local("the expiry of those failures, beside them"),
    "axes_accessfailurelog": Local("the log of those failures, beside them"),
    "axes_accesslog": Local("successful sign-ins, which settings keep unlogged (AXES_DISABLE_ACCESS_LOG)"),
    "vouchers_autoissuesweep": Local(
        "one row: how far beat's auto-issue sweep has read, written by that one task"
    ),
}

# Where the test finds a unique key that does not include its table's distribution column
# (nor a `same_key` column), and the guarantee would otherwise be lost under Citus.
_MERCHANT_REF = (
    "a public ref is 100 random bits (loyalty/core/refs.py): the key becomes (merchant_id, "
    "ref), and a clash across shards is as likely as guessing a ref; every partner and portal "
    "look-up by ref also names the caller's merchant (invariant 5), so it is routed to one shard"
)
_STRIPE = (
    "Stripe makes the id and keeps it unique: the key becomes (merchant_id, {column}), and "
    "the Stripe webhook finds the merchant first (billing_billingprofile, a reference table, "
    "by connected account or customer)"
)


def _key_table(table: str, column: str) -> str:
    return (
        f"a key table `{table}` distributed by `{column}`, written in the same distributed "
        "transaction with ON CONFLICT DO NOTHING: the same guarantee, checked on the one "
        "shard the key hashes to"
    )


UNIQUE_EXCEPTIONS: dict[tuple[str, tuple[str, ...]], str] = {
    (MEMBER, ("username",)): _key_table("auth_username", "username") + "; sign-in finds the user's id there",
    ("members_member", ("ref",)): _key_table("members_memberref", "ref")
    + "; partners name a member by ref alone, and that table routes them",
    ("members_memberpass", ("token_id",)): (
        "a pass id is 128 random bits: the key becomes (member_id, token_id); the migration "
        "signs the member's id into the pass beside it, so its check is routed to one shard"
    ),
    ("scoring_hold", ("ref",)): (
        "100 random bits (loyalty/core/refs.py): the key becomes (member_id, ref); the "
        "holding merchant's and the operator's look-ups by ref alone scan every shard's index"
    ),
    ("points_pointstransaction", ("idempotency_key",)): _key_table(
        "points_transactionkey", "idempotency_key"
    ),
    ("billing_memberstripecustomer", ("stripe_account", "customer_id")): (
        "Stripe makes customer ids unique within a connected account, and the row is only "
        "written for the member Stripe made it for: the key becomes (member_id, "
        "stripe_account, customer_id)"
    ),
    ("merchants_invitation", ("token_hash",)): (
        "the SHA-256 of 256 random bits: the key becomes (merchant_id, token_hash); the "
        "accept page's look-up by hash alone, a few a day, scans every shard's index"
    ),
    ("merchants_location", ("ref",)): _MERCHANT_REF,
    ("merchants_webhookendpoint", ("ref",)): _MERCHANT_REF,
    ("merchants_webhookevent", ("ref",)): _MERCHANT_REF,
    ("merchants_webhookdelivery", ("ref",)): _MERCHANT_REF,
    (MERCHANT, ("ref",)): (
        "100 random bits: the key becomes (merchant_id, ref); the app's look-up of a perk by "
        "ref alone scans every shard's index until the app's links carry the merchant"
    ),
    ("vouchers_campaign", ("ref",)): _MERCHANT_REF,
    ("vouchers_voucher", ("code",)): _key_table("vouchers_code", "code")
    + "; redemptions need none of it, they look codes up with the merchant",
    ("vouchers_voucher", ("member_id", "claim_key")): _key_table("vouchers_claimkey", "member_id")
    + ", co-located with the member, which is where a claim's replay looks",
    ("vouchers_reservation", ("ref",)): _MERCHANT_REF,
    ("vouchers_redemption", ("ref",)): _MERCHANT_REF,
    ("vouchers_redemptionbatch", ("ref",)): _MERCHANT_REF,
    ("billing_invoice", ("ref",)): _MERCHANT_REF,
    ("billing_invoice", ("stripe_id",)): _STRIPE.format(column="stripe_id"),
    ("billing_deposit", ("ref",)): _MERCHANT_REF,
    ("billing_deposit", ("payment_intent_id",)): _STRIPE.format(column="payment_intent_id"),
    ("billing_deposit", ("setup_intent_id",)): _STRIPE.format(column="setup_intent_id"),
}
