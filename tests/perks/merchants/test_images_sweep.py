"""Logos set while the broker is down get their renditions, and lose their old files, from
beat's sweep once it runs: once, and only in the merchant's own logo folder."""

import io
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from config.schedule import BEAT_SCHEDULE
from perks.merchants.images import RENDITION_SIZES, SWEEP_GRACE, Swept, rendition_name, renditions_make
from perks.merchants.models import Merchant
from perks.merchants.services import merchant_logo_set
from perks.merchants.services.merchants import logo_directory, merchant_logos_sweep
from perks.merchants.tasks import logos_sweep
from tests.support.celery import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), colour).save(out, format="PNG")
    return out.getvalue()


def renditions(name: str) -> list[str]:
    return [rendition_name(name, size) for size in RENDITION_SIZES["logo"]]


def logo_of(merchant: Merchant) -> str:
    return Merchant.objects.get(pk=merchant.pk).logo.name


def past_the_grace():
    return time_machine.travel(timezone.now() + SWEEP_GRACE + timedelta(seconds=5), tick=True)


def test_a_logo_replaced_while_the_broker_is_down_is_swept_once(media, merchant, owner, caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    with broker_unreachable():
        merchant_logo_set(merchant=merchant, actor=owner, upload=png("teal"))
        old = logo_of(merchant)
        renditions_make(name=old, kind="logo")  # the old logo had its sizes
        merchant_logo_set(merchant=merchant, actor=owner, upload=png("navy"))
    new = logo_of(merchant)

    assert "merchants.image_renditions_make not enqueued" in caplog.text
    assert "merchants.image_files_delete not enqueued" in caplog.text
    assert not any(default_storage.exists(n) for n in renditions(new))
    assert all(default_storage.exists(n) for n in [old, *renditions(old)])

    with past_the_grace():
        assert logos_sweep() == {"made": 3, "deleted": 4}
        assert all(default_storage.exists(n) for n in [new, *renditions(new)])
        assert not any(default_storage.exists(n) for n in [old, *renditions(old)])

        assert logos_sweep() == {"made": 0, "deleted": 0}
    assert "merchants.logos_sweep" in {entry["task"] for entry in BEAT_SCHEDULE.values()}


def test_nothing_younger_than_the_grace_period_is_touched(media, merchant, owner):
    """A file just stored may be the upload of a transaction not yet committed; a logo just
    set has its task on the way."""
    with broker_unreachable():
        merchant_logo_set(merchant=merchant, actor=owner, upload=png("teal"))
    stray = default_storage.save(f"{logo_directory(merchant.ref)}/uncommitted.png", ContentFile(png("red")))

    assert merchant_logos_sweep() == Swept()
    assert default_storage.exists(stray)
    assert not any(default_storage.exists(n) for n in renditions(logo_of(merchant)))


def test_only_the_merchants_logo_folder_is_cleaned(media, merchant, owner):
    with broker_unreachable():
        merchant_logo_set(merchant=merchant, actor=owner, upload=png("teal"))
    elsewhere = [
        default_storage.save(f"merchants/{merchant.ref}/invoice.pdf", ContentFile(b"%PDF")),
        default_storage.save("merchants/logos/legacy.png", ContentFile(png("red"))),
        default_storage.save(f"{logo_directory(merchant.ref)}-old/x.png", ContentFile(png("red"))),
    ]
    stray = default_storage.save(f"{logo_directory(merchant.ref)}/left.png", ContentFile(png("red")))

    with past_the_grace():
        assert merchant_logos_sweep() == Swept(made=3, deleted=1)

    assert not default_storage.exists(stray)
    assert all(default_storage.exists(n) for n in elsewhere)


def test_a_logo_outside_its_folder_still_gets_its_renditions(media, merchant):
    """Logos stored before they had a folder of their own (the field's `upload_to`)."""
    name = default_storage.save("merchants/logos/legacy.png", ContentFile(png("red")))
    Merchant.objects.filter(pk=merchant.pk).update(logo=name)

    with past_the_grace():
        assert merchant_logos_sweep() == Swept(made=3)
        assert merchant_logos_sweep() == Swept()

    assert default_storage.exists(name)
