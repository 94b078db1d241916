"""POST /events/canvas/: signed events verified against the JWKS (refetched on rotation), unsigned
ones refused unless allowed, and accepted events turned into a coalesced sync request."""

import json
from unittest import mock

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from badging.live_events import local_id
from badging.services import sync
from tests import factories as f

pytestmark = pytest.mark.django_db

JWKS_URL = "https://live-events.example/jwks"


def keypair(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


KEY1, JWK1 = keypair("2026-11")
KEY2, JWK2 = keypair("2026-12")


def event(name="grade_change", course_id="10000000000123", **body):
    return {
        "metadata": {
            "event_name": name,
            "event_time": "2026-11-27T08:00:00.000Z",
            "context_type": "Course",
            "context_id": course_id,
        },
        "body": {"course_id": course_id, "user_id": "10000000000042", **body},
    }


def signed(payload, key=KEY1, kid="2026-11"):
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(autouse=True)
def live_settings(settings):
    settings.LIVE_EVENTS_JWKS_URL = JWKS_URL
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = False
    settings.LIVE_EVENTS_SHARED_SECRET = ""


@pytest.fixture
def badge():
    return f.CourseBadgeFactory(course__canvas_course_id="123")


@pytest.fixture
def send_task():
    with mock.patch("celery.current_app.send_task") as send:
        yield send


def post(client, body, content_type="application/jwt"):
    return client.post("/events/canvas/", data=body, content_type=content_type)


@responses.activate
def test_valid_signed_event_requests_a_sync_of_its_course(client, badge, send_task, django_capture_on_commit_callbacks):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, signed(event("grade_override", override_score=95.0)))
    assert response.status_code == 202
    assert response.json() == {"event": "grade_override", "courses": 1}
    kwargs = send_task.call_args.kwargs["kwargs"]
    assert kwargs["course_id"] == badge.course_id
    # Only the learner whose final grade changed is re-read (global id 10000000000042 → local 42).
    assert sync._learners_marked_take(badge.course_id) == ["42"]
    # A duplicate delivery (Canvas does not dedupe) is folded into the queued sync.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(event("grade_change"))).status_code == 202
    assert send_task.call_count == 1
    assert len(responses.calls) == 1  # the key set is cached
    # A grade event (possibly a posting, which graded_since misses) asks for a recheck of that learner.
    assert sync._postings_marked_take(badge.course_id) == ["42"]


@responses.activate
def test_bad_signature_is_refused(client, badge, send_task):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    forged = signed(event(), key=KEY2, kid="2026-11")
    response = post(client, forged)
    assert response.status_code == 401
    assert "signature is not valid" in response.json()["error"]
    assert not send_task.called


@responses.activate
def test_unknown_kid_refetches_the_key_set_once(client, badge, send_task):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    responses.get(JWKS_URL, json={"keys": [JWK1, JWK2]})
    assert post(client, signed(event(), key=KEY1)).status_code == 202
    # Canvas rotated to a new key: the cached set does not know it yet.
    assert post(client, signed(event(), key=KEY2, kid="2026-12")).status_code == 202
    assert len(responses.calls) == 2
    # A forged kid does not make us fetch again and again.
    assert post(client, signed(event(), key=KEY2, kid="nope")).status_code == 401
    assert len(responses.calls) == 2


def test_unsigned_json_refused_unless_allowed(client, badge, send_task, settings):
    body = json.dumps(event())
    refused = post(client, body, content_type="application/json")
    assert refused.status_code == 401 and "Sign Payload" in refused.json()["error"]
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, body, content_type="application/json").status_code == 202


def test_unsigned_json_with_shared_secret(client, badge, send_task, settings):
    settings.LIVE_EVENTS_SHARED_SECRET = "s3cret"
    body = json.dumps(event())
    assert client.post("/events/canvas/?secret=wrong", data=body, content_type="application/json").status_code == 401
    assert client.post("/events/canvas/?secret=s3cret", data=body, content_type="application/json").status_code == 202


def test_other_events_and_unknown_courses_are_acknowledged_without_work(client, badge, send_task, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, json.dumps(event("logged_in")), "application/json").status_code == 204
    assert post(client, json.dumps(event(course_id="999")), "application/json").status_code == 204
    assert not send_task.called


def test_malformed_bodies_are_400(client, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, "{not json", "application/json").status_code == 400
    assert post(client, json.dumps({"body": {}}), "application/json").status_code == 400
    assert post(client, "", "application/json").status_code == 400
    assert post(client, "garbage-not-a-jwt").status_code == 400
    assert client.get("/events/canvas/").status_code == 405


def test_global_ids_map_to_local_ids():
    assert local_id("10000000000123") == "123"
    assert local_id(20000000000456) == "456"
    assert local_id("123") == "123"
    assert local_id("$Canvas.course.id") == ""
