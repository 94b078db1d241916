"""POST /events/canvas/<platform key>/: signed events verified against the JWKS (refetched on
rotation), unsigned ones refused unless allowed, accepted events turned into a coalesced sync
request of that platform's course only; the old shared /events/canvas/ accepts nothing."""

import json
import uuid
from datetime import UTC, datetime

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from badging.live_events import local_id
from badging.services.sync import marks as sync_marks
from tests import factories as f

pytestmark = pytest.mark.django_db

JWKS_URL = "https://live-events.example/jwks"


def keypair(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


KEY1, JWK1 = keypair("2026-11")
KEY2, JWK2 = keypair("2026-12")


def now_iso():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(name="grade_change", course_id="10000000000123", metadata=None, **body):
    # Each call is a new event (its own request id, dated now): repeats of one event are replays.
    return {
        "metadata": {
            "event_name": name,
            "event_time": now_iso(),
            "request_id": str(uuid.uuid4()),
            "context_type": "Course",
            "context_id": course_id,
            **(metadata or {}),
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


def url(platform):
    return f"/events/canvas/{platform.live_events_key}/"


def post(client, body, content_type="application/jwt", platform=None):
    from lti.models import Platform

    platform = platform or Platform.objects.order_by("pk").first() or f.PlatformFactory()
    return client.post(url(platform), data=body, content_type=content_type)


@responses.activate
def test_valid_signed_event_requests_a_sync_of_its_course(client, badge, enqueued, django_capture_on_commit_callbacks):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, signed(event("grade_override", override_score=95.0)))
    assert response.status_code == 202
    assert response.json() == {"event": "grade_override", "courses": 1}
    kwargs = enqueued[-1].kwargs
    assert kwargs["course_id"] == badge.course_id
    # Only the learner whose final grade changed is re-read (global id 10000000000042 → local 42).
    assert sync_marks._learners_marked_take(badge.course_id) == ["42"]
    # A duplicate delivery (Canvas does not dedupe) is folded into the queued sync.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(event("grade_change"))).status_code == 202
    assert len(enqueued) == 1
    assert len(responses.calls) == 1  # the key set is cached
    # A grade event (possibly a posting, which graded_since misses) asks for a recheck of that learner.
    assert sync_marks._postings_marked_take(badge.course_id) == ["42"]


@responses.activate
def test_bad_signature_is_refused(client, badge, enqueued):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    forged = signed(event(), key=KEY2, kid="2026-11")
    response = post(client, forged)
    assert response.status_code == 401
    assert "signature is not valid" in response.json()["error"]
    assert not enqueued


@responses.activate
def test_unknown_kid_refetches_the_key_set_once(client, badge, enqueued):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    responses.get(JWKS_URL, json={"keys": [JWK1, JWK2]})
    assert post(client, signed(event(), key=KEY1)).status_code == 202
    # Canvas rotated to a new key: the cached set does not know it yet.
    assert post(client, signed(event(), key=KEY2, kid="2026-12")).status_code == 202
    assert len(responses.calls) == 2
    # A forged kid does not make us fetch again and again.
    assert post(client, signed(event(), key=KEY2, kid="nope")).status_code == 401
    assert len(responses.calls) == 2


@responses.activate
def test_the_key_set_is_read_like_a_platforms_and_a_token_without_kid_fetches_nothing(
    client, badge, enqueued, settings
):
    # One fetcher for LTI launches and Live Events: the same timeout (LTI_HTTP_TIMEOUT).
    settings.LTI_HTTP_TIMEOUT = 4.5
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    assert post(client, jwt.encode(event(), KEY1, algorithm="RS256")).status_code == 401
    assert len(responses.calls) == 0
    assert post(client, signed(event())).status_code == 202
    assert responses.calls[0].request.req_kwargs["timeout"] == 4.5


def test_unsigned_json_refused_unless_allowed(client, badge, enqueued, settings):
    body = json.dumps(event())
    refused = post(client, body, content_type="application/json")
    assert refused.status_code == 401 and "Sign Payload" in refused.json()["error"]
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, body, content_type="application/json").status_code == 202


def test_unsigned_json_with_shared_secret(client, badge, enqueued, settings):
    settings.LIVE_EVENTS_SHARED_SECRET = "s3cret"
    body = json.dumps(event())
    target = url(badge.course.platform)
    assert client.post(f"{target}?secret=wrong", data=body, content_type="application/json").status_code == 401
    assert client.post(f"{target}?secret=s3cret", data=body, content_type="application/json").status_code == 202


def test_other_events_and_unknown_courses_are_acknowledged_without_work(client, badge, enqueued, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, json.dumps(event("logged_in")), "application/json").status_code == 204
    assert post(client, json.dumps(event(course_id="999")), "application/json").status_code == 204
    assert not enqueued


def test_malformed_bodies_are_400(client, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    assert post(client, "{not json", "application/json").status_code == 400
    assert post(client, json.dumps({"body": {}}), "application/json").status_code == 400
    assert post(client, "", "application/json").status_code == 400
    assert post(client, "garbage-not-a-jwt").status_code == 400
    assert client.get(url(f.PlatformFactory())).status_code == 405


def test_global_ids_map_to_local_ids():
    assert local_id("10000000000123") == "123"
    assert local_id(20000000000456) == "456"
    assert local_id("123") == "123"
    assert local_id("$Canvas.course.id") == ""


@responses.activate
def test_an_event_only_syncs_the_course_of_the_platform_whose_url_it_came_to(
    client, badge, enqueued, django_capture_on_commit_callbacks
):
    # Another Canvas customer with a course of the same id: its events pass the (shared) signature
    # check, but were posted to its own platform's URL and must not sync ours, nor ours theirs.
    other = f.CourseBadgeFactory(course__canvas_course_id="123")
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, signed(event("grade_change")), platform=other.course.platform)
    assert response.status_code == 202 and response.json()["courses"] == 1
    assert [task.kwargs["course_id"] for task in enqueued] == [other.course_id]
    assert sync_marks._postings_marked_take(badge.course_id) == []
    # A platform without such a course: acknowledged, nothing synced anywhere.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(event("grade_change")), platform=f.PlatformFactory()).status_code == 204
    assert len(enqueued) == 1


@responses.activate
def test_unknown_or_inactive_platform_key_is_404(client, badge, enqueued):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    response = client.post("/events/canvas/not-a-key/", data=signed(event()), content_type="application/jwt")
    assert response.status_code == 404
    platform = badge.course.platform
    platform.active = False
    platform.save()
    assert post(client, signed(event()), platform=platform).status_code == 404
    assert not enqueued
    assert len(responses.calls) == 0  # nothing is verified for a URL no platform owns


def test_the_old_shared_url_is_gone_and_says_where_to_look(client, badge, enqueued, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    response = client.post("/events/canvas/", data=json.dumps(event()), content_type="application/json")
    assert response.status_code == 410
    assert "Platforms" in response.json()["error"] and "Live Events URL" in response.json()["error"]
    assert not enqueued


@responses.activate
def test_an_event_of_another_root_account_is_acknowledged_and_ignored(
    client, badge, enqueued, django_capture_on_commit_callbacks
):
    platform = badge.course.platform
    platform.canvas_guid = "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com"
    platform.save()
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    foreign = {"root_account_uuid": "Other0uuid", "root_account_lti_guid": "Other0uuid.other.instructure.com"}
    # Authentic (hosted Canvas signs every customer's events with one key): a 4xx would count as a
    # failed delivery towards deactivating that subscription. Nothing is synced.
    response = post(client, signed(event(metadata=foreign)))
    assert response.status_code == 200
    assert "another Canvas root account" in response.json()["ignored"]
    assert post(client, signed(event(metadata={"root_account_uuid": "Other0uuid"}))).status_code == 200
    assert not enqueued
    # The platform's own root account (by lti guid or by uuid), or an event without either, is handled.
    own = {
        "root_account_lti_guid": platform.canvas_guid,
        "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(event(metadata=own))).status_code == 202
        assert post(client, signed(event(metadata={"root_account_uuid": own["root_account_uuid"]}))).status_code == 202
        assert post(client, signed(event())).status_code == 202


@responses.activate
def test_without_a_recorded_guid_the_url_alone_decides(client, badge, enqueued):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    foreign = {"root_account_lti_guid": "Other0uuid.other.instructure.com"}
    assert post(client, signed(event(metadata=foreign))).status_code == 202


def test_a_launch_records_the_root_account_guid_live_events_are_checked_against(client, canvas):
    from lti.models import Platform
    from lti.services.launches import platform_guid_record
    from tests.lti.platform import LEARNER

    assert canvas.launch(client, roles=LEARNER).status_code == 302  # into the tool
    platform = Platform.objects.get(issuer=canvas.issuer, client_id=canvas.client_id)
    assert platform.canvas_guid == "canvas-guid"  # the launch's tool_platform.guid
    # A launch naming another root account does not move the recorded one.
    platform_guid_record(platform=platform, claims={LTI_CLAIM + "tool_platform": {"guid": "other-guid"}})
    platform.refresh_from_db()
    assert platform.canvas_guid == "canvas-guid"


LTI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def test_platform_admin_page_shows_its_absolute_live_events_url_read_only(admin_client, settings):
    from django.urls import reverse

    from tests.lti.test_admin_and_checks import change_form_data

    platform = f.PlatformFactory()
    key = platform.live_events_key
    page_url = reverse("admin:lti_platform_change", args=[platform.pk])
    settings.PUBLIC_BASE_URL = ""
    html = admin_client.get(page_url).content.decode()
    assert f'value="http://testserver/events/canvas/{key}/"' in html and "readonly" in html
    assert "Data Services" in html  # the one-line help: where it goes in Canvas
    settings.PUBLIC_BASE_URL = "https://badges.uni.example.edu"
    html = admin_client.get(page_url).content.decode()
    assert f'value="https://badges.uni.example.edu/events/canvas/{key}/"' in html
    # Saving the page (even with an edited URL box) keeps the key; every new platform gets its own.
    response = admin_client.post(page_url, change_form_data(platform, live_events_url="https://evil.example/x/"))
    assert response.status_code == 302
    platform.refresh_from_db()
    assert platform.live_events_key == key
    others = {f.PlatformFactory().live_events_key for _ in range(3)}
    assert len(others) == 3 and key not in others and all(len(k) >= 32 for k in others)
    add_page = admin_client.get(reverse("admin:lti_platform_add")).content.decode()
    assert "shown once the platform is saved" in add_page
