"""A perk image replaced while the broker is down gets its renditions, and its old file
goes, from beat's sweep of perks once it runs, once."""

import io
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from config.schedule import BEAT_SCHEDULE
from perks.catalog.models import Perk
from perks.catalog.services import perk_image_set
from perks.catalog.tasks import perk_images_sweep
from perks.merchants.images import RENDITION_SIZES, SWEEP_GRACE, rendition_name
from tests.factories import PerkFactory
from tests.support.celery import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


def webp(colour: str) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (640, 320), colour).save(out, format="WEBP")
    out.seek(0)
    return out


def image_of(perk: Perk) -> str:
    return Perk.objects.get(pk=perk.pk).image.name


def test_a_perk_image_replaced_while_the_broker_is_down_is_swept_once(media, merchant, owner, caplog):
    caplog.set_level(logging.WARNING, logger="loyalty.core.tasks")
    perk = PerkFactory.create(merchant=merchant)
    with broker_unreachable():
        perk_image_set(perk=perk, actor=owner, upload=webp("teal"))
        old = image_of(perk)
        perk_image_set(perk=perk, actor=owner, upload=webp("navy"))
    new = image_of(perk)
    sizes = [rendition_name(new, size) for size in RENDITION_SIZES["perk"]]

    assert "merchants.image_files_delete not enqueued" in caplog.text
    assert not any(default_storage.exists(n) for n in sizes)
    assert default_storage.exists(old)

    assert perk_images_sweep() == {"made": 0, "deleted": 0}  # within the grace period
    with time_machine.travel(timezone.now() + SWEEP_GRACE + timedelta(seconds=5), tick=True):
        assert perk_images_sweep() == {"made": 3, "deleted": 1}
        assert all(default_storage.exists(n) for n in [new, *sizes])
        assert not default_storage.exists(old)

        assert perk_images_sweep() == {"made": 0, "deleted": 0}
    assert "catalog.perk_images_sweep" in {entry["task"] for entry in BEAT_SCHEDULE.values()}
