import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_seed_demo_writes_a_manifest_whose_logins_work(tmp_path):
    output = tmp_path / "demo.json"

    call_command("seed_demo", "--output", str(output))

    manifest = json.loads(output.read_text())
    assert set(manifest) == {"base_url_hint", "merchants", "members", "operator"}
    operator = manifest["operator"]
    user = authenticate(username=operator["email"], password=operator["password"])
    assert user is not None
    assert user.is_superuser


def test_seed_demo_refuses_a_database_that_is_not_empty(tmp_path):
    call_command("seed_demo", "--output", str(tmp_path / "first.json"))

    with pytest.raises(CommandError, match="not empty"):
        call_command("seed_demo", "--output", str(tmp_path / "second.json"))


def test_reuse_keeps_the_first_demo_and_its_logins(tmp_path):
    output = tmp_path / "demo.json"
    call_command("seed_demo", "--output", str(output))
    first = output.read_text()

    call_command("seed_demo", "--output", str(output), "--reuse")

    assert output.read_text() == first
