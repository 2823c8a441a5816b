"""The data a redemption benchmark works on, made through the services or bulk inserted,
the queue their side effects wait in, and the checks that every answer counted was a
redemption (bench/redeem_api.py, bench/redeem_instructions.py)."""

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from bench.support.partner import BenchPartner
from bench.support.worker import bench_queue, queue_drop
from loyalty.members.models import Member
from loyalty.scoring.models import MemberStanding, Tier
from perks.catalog.models import Perk
from perks.catalog.services import perk_create
from perks.vouchers.codes import code_format, codes_generate
from perks.vouchers.models import Redemption, Voucher, VoucherSource

INSERT_BATCH = 5_000
PURCHASE = {"amount": "42.00", "currency": "CNY"}


def redemption_body(code: str) -> bytes:
    """The JSON body of a redemption of `code` (canonical) at the till, with a purchase."""
    return json.dumps({"code": code_format(code), **PURCHASE}).encode()


def redemption_perk(partner: BenchPartner) -> Perk:
    """A realistic redemption: a discount computed on the amount, for a minimum score, with
    no hold in 90 days (every eligibility check a redemption repeats)."""
    return perk_create(
        merchant=partner.merchant,
        actor=partner.owner,
        type="discount",
        title="10 % off from score 600",
        params={"percent": "10", "currency": "CNY"},
        min_score=600,
        hold_free_days=90,
        status="active",
    )


def gold_members(count: int) -> list[int]:
    """`count` members at gold and above, bulk inserted with their standings."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.bulk_create(
        (User(username=f"m{i}@redeem.bench", email=f"m{i}@redeem.bench") for i in range(count)),
        batch_size=INSERT_BATCH,
    )
    users = User.objects.filter(username__endswith="@redeem.bench").values_list("pk", flat=True)
    Member.objects.bulk_create((Member(user_id=pk) for pk in users.iterator()), batch_size=INSERT_BATCH)
    ids = list(Member.objects.values_list("pk", flat=True))
    tiers = list(Tier.objects.filter(min_score__gte=600))
    rng = random.Random(6)  # nosec B311  # seeded for repeatable benchmark data, not for secrets
    MemberStanding.objects.bulk_create(
        (
            MemberStanding(member_id=pk, score=tier.min_score, tier=tier)
            for pk in ids
            for tier in [rng.choice(tiers)]
        ),
        batch_size=INSERT_BATCH,
    )
    return ids


def single_use_vouchers(partner: BenchPartner, perk: Perk, member_ids: list[int], count: int) -> list[str]:
    """`count` single-use vouchers of `perk`, spread over the members, bulk inserted."""
    now = timezone.now()
    codes = codes_generate(count)
    Voucher.objects.bulk_create(
        (
            Voucher(
                code=code,
                perk=perk,
                merchant=partner.merchant,
                member_id=member_ids[i % len(member_ids)],
                source=VoucherSource.MERCHANT,
                uses_allowed=1,
                issued_at=now - timedelta(minutes=1),
                valid_from=now - timedelta(minutes=1),
                expires_at=now + timedelta(days=30),
            )
            for i, code in enumerate(codes)
        ),
        batch_size=INSERT_BATCH,
    )
    random.Random(7).shuffle(codes)  # nosec B311  # seeded for repeatable benchmark data, not for secrets
    return codes


def check_redeemed(partner: BenchPartner, *, redeemed: int) -> None:
    """No voucher used twice, and a redemption row behind every 201 counted (an idempotent
    replay answers 201 too, and writes nothing)."""
    if Redemption.objects.filter(merchant=partner.merchant).count() < redeemed:
        raise RuntimeError("fewer redemptions than 201 answers: some were replays")
    twice = (
        Redemption.objects.filter(merchant=partner.merchant)
        .values("voucher")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if twice.exists():
        raise RuntimeError("a voucher was redeemed twice")
    over = Voucher.objects.filter(merchant=partner.merchant, uses_count__gt=1)
    if over.exists():
        raise RuntimeError("a voucher counts more uses than it allows")


@contextmanager
def side_effects_parked() -> Iterator[dict[str, str]]:
    """The environment for serving the app while the side-effect drains its redemptions
    wake wait in a queue of their own, unconsumed, dropped afterwards: a benchmark measures
    the redemption, not its drain."""
    name = bench_queue()
    try:
        yield {"CELERY_TASK_DEFAULT_QUEUE": name}
    finally:
        queue_drop(name)
