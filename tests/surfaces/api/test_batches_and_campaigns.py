"""POST and GET /redemption-batches, POST and GET /campaigns: background jobs, applied by a
real worker, read back through the API."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from perks.merchants.models import WebhookEvent
from perks.vouchers.models import BatchStatus, Redemption, RedemptionChannel, Voucher, VoucherStatus
from perks.vouchers.services.batches import redemption_batch_apply
from tests.factories import PerkFactory
from tests.factories.vouchers import VoucherFactory
from tests.perks.vouchers.campaign_support import members_in
from tests.surfaces.api.conftest import assert_error

WAIT_SECONDS = 60


def _until_done(partner, path):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        body = partner.get(path).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{path} not done within {WAIT_SECONDS}s")


@pytest.fixture
def perk(partner):
    return PerkFactory.create(merchant=partner.merchant, valid_from=timezone.now() - timedelta(days=1))


def _voucher(perk, **fields):
    """A voucher the member had before the till went offline."""
    return VoucherFactory.create(perk=perk, issued_at=timezone.now() - timedelta(hours=2), **fields)


def _offline(minutes_ago: int) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_applied_item_by_item_with_each_result(partner, perk, celery_worker):
    fresh, used = _voucher(perk), _voucher(perk)
    used.uses_count, used.status = 1, VoucherStatus.REDEEMED
    used.save()
    body = {
        "redemptions": [
            {"code": fresh.code.lower(), "occurred_at": _offline(30)},
            {"code": used.code, "occurred_at": _offline(20)},
            {"code": "0000-0000-0000-0", "occurred_at": _offline(10)},
            {"code": fresh.code, "occurred_at": _offline(5)},
        ]
    }

    accepted = partner.post("/redemption-batches", body)

    assert accepted.status_code == 202, accepted.content
    assert set(accepted.json()) == {"id", "status"}
    done = _until_done(partner, f"/redemption-batches/{accepted.json()['id']}")
    redemption = Redemption.objects.get()
    assert done["results"] == [
        {"index": 0, "status": "redeemed", "redemption": redemption.ref, "error": None},
        {
            "index": 1,
            "status": "failed",
            "redemption": None,
            "error": {"code": "voucher_already_redeemed", "message": "This voucher has no use left."},
        },
        {
            "index": 2,
            "status": "failed",
            "redemption": None,
            "error": {"code": "not_found", "message": "No voucher has this code; check it for typos."},
        },
        {
            "index": 3,
            "status": "failed",
            "redemption": None,
            "error": {"code": "voucher_already_redeemed", "message": "This voucher has no use left."},
        },
    ]
    assert redemption.channel == RedemptionChannel.BATCH
    assert abs(redemption.occurred_at - (timezone.now() - timedelta(minutes=30))) < timedelta(minutes=1)
    completed = WebhookEvent.objects.get(type="redemption_batch.completed")
    assert completed.data == {"id": accepted.json()["id"], "status": "done", "redeemed": 1, "failed": 3}


@pytest.mark.django_db
def test_applying_again_skips_what_was_applied_and_completes_once(
    partner, perk, django_capture_on_commit_callbacks
):
    voucher = _voucher(perk, uses_allowed=2)
    early = _voucher(perk)
    early.issued_at = early.valid_from = timezone.now()
    early.save()
    with django_capture_on_commit_callbacks():  # the task is not run here: the test applies it
        accepted = partner.post(
            "/redemption-batches",
            {
                "redemptions": [
                    {"code": voucher.code, "occurred_at": _offline(5)},
                    {"code": early.code, "occurred_at": _offline(5)},
                ]
            },
        )
    from perks.vouchers.models import RedemptionBatch

    batch = RedemptionBatch.objects.get(ref=accepted.json()["id"])

    redemption_batch_apply(batch_id=batch.pk, actor=partner_key(partner))
    redemption_batch_apply(batch_id=batch.pk, actor=partner_key(partner))

    voucher.refresh_from_db()
    assert voucher.uses_count == 1
    assert Redemption.objects.count() == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert WebhookEvent.objects.filter(type="redemption_batch.completed").count() == 1
    assert list(batch.items.values_list("status", "error_code")) == [
        ("redeemed", ""),
        ("failed", "voucher_not_yet_valid"),  # redeemed offline before it was issued: refused
    ]


def partner_key(partner):
    from perks.merchants.models import ApiKey

    return ApiKey.objects.get(merchant=partner.merchant)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([], "redemptions"),
        ([{"code": "X", "occurred_at": "2026-05-01T09:00:00"}], "redemptions[0].occurred_at"),
        ([{"code": "X"}], "redemptions[0].occurred_at"),
        (
            [{"code": "X", "occurred_at": (timezone.now() + timedelta(hours=1)).isoformat()}],
            "redemptions[0].occurred_at",
        ),
        ([{"code": "X", "occurred_at": "2026-05-01T09:00:00Z", "amount": "1.00"}], "redemptions[0].currency"),
        (
            [{"code": "X", "occurred_at": "2026-05-01T09:00:00Z", "amount": "1.001", "currency": "CNY"}],
            "redemptions[0].amount",
        ),
    ],
)
def test_a_malformed_batch_is_refused_whole(partner, items, param):
    assert_error(partner.post("/redemption-batches", {"redemptions": items}), 400, "validation_error", param)


@pytest.mark.django_db
def test_a_batch_takes_at_most_1000_items(partner):
    item = {"code": "X", "occurred_at": _offline(1)}

    assert_error(
        partner.post("/redemption-batches", {"redemptions": [item] * 1001}),
        400,
        "validation_error",
        "redemptions",
    )


@pytest.mark.django_db
def test_batches_need_the_redemptions_write_scope_and_unknown_ones_are_not_found(partner, read_only_partner):
    body = {"redemptions": [{"code": "X", "occurred_at": _offline(1)}]}

    assert_error(read_only_partner.post("/redemption-batches", body), 403, "permission_denied")
    assert_error(partner.get("/redemption-batches/bat_" + "0" * 20), 404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_a_campaign_issues_in_the_background_and_reports_progress(partner, perk, celery_worker):
    gold = members_in("gold", 3)
    members_in("silver", 2)

    accepted = partner.post("/campaigns", {"perk": perk.ref, "audience": {"min_tier": "gold"}})

    assert accepted.status_code == 202, accepted.content
    assert set(accepted.json()) == {"id", "status", "total", "issued"}
    assert accepted.json()["status"] == "pending"
    done = _until_done(partner, f"/campaigns/{accepted.json()['id']}")
    assert done == {"id": accepted.json()["id"], "status": "done", "total": 3, "issued": 3, "skipped": 0}
    assert set(Voucher.objects.filter(perk=perk).values_list("member", flat=True)) == {m.pk for m in gold}


@pytest.mark.django_db
def test_campaign_refusals(partner, read_only_partner, perk):
    paused = PerkFactory.create(merchant=partner.merchant, status="paused")

    assert_error(
        partner.post("/campaigns", {"perk": paused.ref, "audience": {"min_tier": "gold"}}),
        422,
        "perk_inactive",
    )
    assert_error(
        partner.post("/campaigns", {"perk": perk.ref, "audience": {}}), 400, "validation_error", "audience"
    )
    assert_error(
        partner.post("/campaigns", {"perk": perk.ref, "audience": {"min_score": 10}}),
        400,
        "validation_error",
        "audience.min_score",
    )
    assert_error(
        partner.post("/campaigns", {"perk": PerkFactory.create().ref, "audience": {"min_tier": "gold"}}),
        404,
        "not_found",
        "perk",
    )
    assert_error(
        read_only_partner.post("/campaigns", {"perk": perk.ref, "audience": {"min_tier": "gold"}}),
        403,
        "permission_denied",
    )
    assert_error(partner.get("/campaigns/cmp_" + "0" * 20), 404, "not_found")
