"""Live Events as Canvas delivers them over HTTPS: the documented key set, 2xx for every authentic
event, course_grade_change re-reading the learner's results, stale and replayed events not acted on.

Canvas sources (instructure/canvas-lms):
- doc/api/data_services/md/static/data_service_setup.md: HTTPS delivery signs the event as a JWT,
  with the Beta and Production JWKs at https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks
  (rotated monthly); "Repeated failures within a 24-hour period will result in the subscription
  being deactivated".
- doc/api/data_services/md/dynamic/data_service_canvas_grade.md, course_grade_change: emitted when
  the final_score, current_score or unposted scores of a student change (posting grades changes
  the posted ones); lib/canvas/live_events.rb `course_grade_change` sends user_id and course_id.
- doc/api/data_services/md/dynamic/data_service_canvas_event_metadata.md: every event carries
  event_time (ISO 8601, milliseconds, UTC); delivery is best effort and unsequenced. The documented
  grade_change, submission_updated and enrollment_created examples share one request_id: one
  request emits several events, so a request id alone does not name an event.
- The docs name no event_id and say nothing of `iat`/`exp` in the signed JWT, and canvas-lms has no
  HTTPS signing code (gems/live_events/lib/live_events/client.rb only puts events on a stream,
  delivery happens outside canvas-lms): event_time always bounds an event, `iat`/`exp` and
  metadata.event_id are used when present.
"""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import responses
from django.core.checks import registry

from badging.services.sync import marks as sync_marks
from tests import factories as f
from tests.badging import test_live_events as live
from tests.badging.test_live_events import JWK1, JWKS_URL, KEY2, event, post, signed

# The Live Events tests' fixtures: a key set at JWKS_URL, a course badge in course 123.
live_settings, badge = live.live_settings, live.badge

DOCUMENTED_JWKS = "https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_the_key_set_defaults_to_the_one_canvas_documents_for_https_subscriptions():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "skillsforward.settings", "SECRET_KEY": "x" * 50}
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.LIVE_EVENTS_JWKS_URL)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == DOCUMENTED_JWKS


def test_check_deploy_warns_when_live_events_have_no_key_set(settings):
    from badging.checks import live_events_key_set_check

    deploy_checks = registry.registry.get_checks(include_deployment_checks=True)
    assert live_events_key_set_check in deploy_checks
    assert live_events_key_set_check not in registry.registry.get_checks(include_deployment_checks=False)
    settings.LIVE_EVENTS_JWKS_URL = ""
    warnings = live_events_key_set_check(None)
    assert [w.id for w in warnings] == ["badging.W001"]
    assert "LIVE_EVENTS_JWKS_URL" in warnings[0].msg and warnings[0].level == 30  # WARNING
    settings.LIVE_EVENTS_JWKS_URL = DOCUMENTED_JWKS
    assert live_events_key_set_check(None) == []


db_test = pytest.mark.django_db


@db_test
@responses.activate
def test_every_authentic_event_is_answered_2xx_and_only_forged_or_oversized_ones_4xx(client, badge, enqueued):
    platform = badge.course.platform
    platform.canvas_guid = "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com"
    platform.save()
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    old = iso(datetime.now(UTC) - timedelta(days=2))
    authentic = {
        "an event the tool does not use": event("logged_in"),
        "a course of another Canvas account": event(course_id="999"),
        "a course without a badge": event(course_id=f.CourseFactory(platform=platform).canvas_course_id),
        "another root account": event(metadata={"root_account_lti_guid": "Other0uuid.other.instructure.com"}),
        "an event two days old": event(metadata={"event_time": old}),
    }
    for what, payload in authentic.items():
        response = post(client, signed(payload))
        assert 200 <= response.status_code < 300, (what, response.status_code, response.content)
    assert not enqueued
    replayed = signed(event())
    assert post(client, replayed).status_code == 202
    assert post(client, replayed).status_code == 200  # a second delivery of the same event
    assert len(enqueued) <= 1

    assert post(client, signed(event(), key=KEY2, kid="2026-11")).status_code == 401  # forged
    too_big = signed(event(padding="x" * 300 * 1024))
    assert post(client, too_big).status_code == 413
    assert post(client, '{"metadata": {}}', content_type="application/json").status_code == 401  # unsigned


@db_test
@responses.activate
def test_a_course_grade_change_rereads_that_learners_results_as_a_grade_event_does(
    client, badge, enqueued, django_capture_on_commit_callbacks
):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    # The documented example's body (global ids in metadata, local ones in the body).
    change = event(
        "course_grade_change",
        course_id="123",
        user_id="42",
        workflow_state="active",
        current_score=17.31,
        old_current_score=13.46,
        final_score=12.5,
        old_final_score=9.72,
        unposted_current_score=17.31,
        unposted_final_score=12.5,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, signed(change))
    assert response.status_code == 202
    assert enqueued[-1].kwargs["course_id"] == badge.course_id
    assert sync_marks._postings_marked_take(badge.course_id) == ["42"]  # its posted results are re-read
    assert sync_marks._learners_marked_take(badge.course_id) == ["42"]  # and its enrollment's scores


@db_test
@responses.activate
@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("event_time", lambda now: {"metadata": {"event_time": iso(now - timedelta(hours=2))}}),
        ("event_time", lambda now: {"metadata": {"event_time": iso(now + timedelta(hours=1))}}),
        ("event_time", lambda now: {"metadata": {"event_time": "yesterday"}}),
        ("event_time", lambda now: {"metadata": {"event_time": None}}),
        ("iat", lambda now: {"iat": int((now - timedelta(hours=2)).timestamp())}),
        ("exp", lambda now: {"exp": int((now - timedelta(minutes=30)).timestamp())}),
    ],
    ids=["old", "future", "not-a-date", "undated", "old-iat", "expired"],
)
def test_an_event_outside_the_window_is_acknowledged_and_not_acted_on(client, badge, enqueued, settings, why, change):
    settings.LIVE_EVENTS_MAX_AGE_SECONDS = 3600
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    payload = event()
    extra = change(datetime.now(UTC))
    payload["metadata"].update(extra.pop("metadata", {}))
    if payload["metadata"].get("event_time") is None:
        del payload["metadata"]["event_time"]
    payload.update(extra)
    response = post(client, signed(payload))
    assert response.status_code == 200, response.content
    assert "ignored" in response.json()
    assert not enqueued
    assert sync_marks._postings_marked_take(badge.course_id) == []
    # The same event, fresh, with a JWT dated now: handled.
    now = datetime.now(UTC)
    fresh = {**event(), "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
    assert post(client, signed(fresh)).status_code == 202


@db_test
@responses.activate
def test_a_replayed_event_is_acted_on_once_and_events_of_one_request_are_each_handled(
    client, badge, enqueued, django_capture_on_commit_callbacks
):
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    grade = event("grade_change", metadata={"request_id": "1dd9dc6f-2fb0-4c19-a6c5-7ee1bf3ed295"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(grade)).status_code == 202
    assert sync_marks._postings_marked_take(badge.course_id) == ["42"]
    # The same event again (re-signed, as a replay or a redelivery would be): acknowledged, no work.
    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, signed(grade))
    assert again.status_code == 200 and "already delivered" in again.json()["ignored"]
    assert sync_marks._postings_marked_take(badge.course_id) == []
    # Another event of the same Canvas request (same request_id) is its own event.
    override = event("grade_override", metadata={"request_id": grade["metadata"]["request_id"]})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(override)).status_code == 202
    assert sync_marks._learners_marked_take(badge.course_id) == ["42"]
    # Events naming their own id are told apart by it.
    first = event(metadata={"event_id": "e-1"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, signed(first)).status_code == 202
        assert post(client, signed(event(metadata={"event_id": "e-1"}))).status_code == 200
    # An event whose handling failed is taken when Canvas delivers it again.
    token = signed(event())
    client.raise_request_exception = False
    with mock.patch("badging.live_events.live_event_handle", side_effect=RuntimeError("database gone")):
        assert post(client, token).status_code == 500
    assert post(client, token).status_code == 202


@db_test
def test_replays_are_remembered_at_least_as_long_as_an_event_stays_fresh(settings):
    from badging import live_events

    settings.LIVE_EVENTS_MAX_AGE_SECONDS = 1800
    platform = f.PlatformFactory()
    with mock.patch.object(live_events.cache, "add", return_value=True) as add:
        assert live_events.live_event_first_delivery(event=event(), platform=platform)
    assert add.call_args.args[2] >= 1800
