import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_deep_healthz_round_trips_through_a_real_worker(client, celery_worker):
    response = client.get("/healthz?deep=1")

    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["ok"] is True


def test_deep_healthz_without_a_worker_is_unavailable(client, settings, monkeypatch):
    monkeypatch.setattr("loyalty.core.health.WORKER_TIMEOUT_SECONDS", 1)

    response = client.get("/healthz?deep=1")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False


def test_healthz_is_503_when_the_broker_is_down(client, monkeypatch):
    from config.celery import app

    # A real client, at a port nothing listens on; restored to the real URL afterwards.
    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr("loyalty.core.health.BROKER_TIMEOUT_SECONDS", 1)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
