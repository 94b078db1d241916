"""Key sets fetched from URLs that others choose are read only up to a bound: an endless or huge
answer is refused as "key set unavailable", never read into memory."""

import json
import logging

import pytest
import responses

from lti.models import LaunchContext
from tests import factories
from tests.badging import test_live_events as live

pytestmark = pytest.mark.django_db


def huge_jwks(real: dict) -> str:
    return json.dumps({**real, "padding": "x" * (2 * 1024 * 1024)})


def test_an_oversized_platform_key_set_refuses_the_launch(client, canvas, rsps, caplog):
    caplog.set_level(logging.WARNING, logger="lti")
    rsps.add("GET", canvas.keyset_url, body=huge_jwks(canvas.jwks()), content_type="application/json")
    response = canvas.launch(client, seed_jwks=False)
    assert response.status_code == 502
    assert "<code>keyset_unavailable</code>" in response.content.decode()
    assert "larger than" in caplog.text
    assert not LaunchContext.objects.exists()


@responses.activate
def test_an_oversized_live_events_key_set_refuses_the_event(client, settings, enqueued):
    settings.LIVE_EVENTS_JWKS_URL = live.JWKS_URL
    responses.get(live.JWKS_URL, body=huge_jwks({"keys": [live.JWK1]}), content_type="application/json")
    response = live.post(client, live.signed(live.event()))
    assert response.status_code == 503  # our side cannot check it now: not a verdict on the event
    assert "key set could not be read" in response.json()["error"]
    assert not enqueued


@pytest.mark.parametrize("size", [300 * 1024, 5 * 1024 * 1024], ids=["over-the-limit", "over-django-upload-limit"])
def test_an_oversized_live_event_is_refused_with_413_before_anything_else(client, enqueued, size):
    url = live.url(factories.PlatformFactory())
    response = client.post(url, data=b"e" * size, content_type="application/jwt")
    assert response.status_code == 413
    assert response.json() == {"error": "the event is too large"}
    assert not enqueued
