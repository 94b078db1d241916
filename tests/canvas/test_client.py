"""The Canvas client against `responses`: pagination, throttling, faults, typed records, errors."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
import responses
from responses import matchers

from canvas import (
    CanvasAuthError,
    CanvasClient,
    CanvasConfigurationError,
    CanvasError,
    CanvasIncompleteAnswerError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasThrottledError,
    CanvasUnavailableError,
)
from canvas.transport import MAX_THROTTLE_WAITS, PREFETCH_PAGES

BASE = "https://uni.instructure.com"
API = BASE + "/api/v1"


def make_client(**kwargs):
    platform = SimpleNamespace(api_base_url=BASE, api_token="tok-123")
    sleeps: list[float] = []
    client = CanvasClient(platform, sleep=sleeps.append, max_retries=kwargs.pop("max_retries", 3), **kwargs)
    return client, sleeps


@responses.activate
def test_pagination_follows_link_next_verbatim_and_sends_bearer_token():
    # A bookmark with mixed case: the client must not touch it.
    next_url = f"{API}/courses/7/enrollments?page=bookmark:WzEwMF0Kx&per_page=100"
    responses.get(
        f"{API}/courses/7/enrollments",
        match=[
            matchers.query_param_matcher(
                {
                    "type[]": "StudentEnrollment",
                    "state[]": ["active", "completed", "inactive", "invited", "deleted", "rejected"],
                    "include[]": "email",
                    "per_page": "100",
                }
            ),
            matchers.header_matcher({"Authorization": "Bearer tok-123"}),
        ],
        json=[{"id": 1, "user_id": 42, "type": "StudentEnrollment", "enrollment_state": "active", "user": {"id": 42}}],
        headers={"Link": f'<{next_url}>; rel="next", <{API}/courses/7/enrollments?page=first>; rel="first"'},
    )
    responses.get(
        next_url,
        match=[matchers.query_string_matcher("page=bookmark:WzEwMF0Kx&per_page=100")],
        json=[
            {
                "id": 2,
                "user_id": 43,
                "type": "StudentEnrollment",
                "enrollment_state": "completed",
                "grades": {"final_score": 80.0, "override_score": 95.0, "override_grade": "A"},
                "user": {"id": 43, "name": "Zoë O'Brien", "sortable_name": "O'Brien, Zoë", "email": "zoe@uni.edu"},
            }
        ],
    )
    client, _ = make_client()
    enrollments = list(client.list_enrollments("7"))
    assert [e.id for e in enrollments] == ["1", "2"]
    assert enrollments[1].grades.override_score == Decimal("95.0")
    assert enrollments[1].grades.has_override
    assert not enrollments[0].grades.has_override
    assert enrollments[1].user.email == "zoe@uni.edu"
    assert enrollments[1].user.name == "Zoë O'Brien"
    assert client.request_count == 2


@responses.activate
def test_next_link_to_another_host_is_refused_to_protect_the_token():
    responses.get(f"{API}/courses/7/users", json=[{"id": 1}], headers={"Link": '<https://evil.example/x>; rel="next"'})
    client, _ = make_client()
    with pytest.raises(CanvasError, match="another server"):
        list(client.list_users_with_email("7"))
    assert len(responses.calls) == 1


@responses.activate
def test_rate_limit_403_waits_and_retries():
    url = f"{API}/courses/7"
    responses.get(url, status=403, body="403 Forbidden (Rate Limit Exceeded)")
    responses.get(url, status=403, body="403 Forbidden (Rate Limit Exceeded)")
    responses.get(url, json={"id": 7, "name": "Data Skills", "course_code": "DS1", "workflow_state": "available"})
    client, sleeps = make_client()
    course = client.get_course("7")
    assert course.name == "Data Skills"
    assert client.request_count == 3
    assert client.throttle_waits == 2
    assert len(sleeps) == 2 and all(s >= 1.0 for s in sleeps)


@responses.activate
def test_throttled_after_every_retry_is_a_plain_words_error():
    responses.get(f"{API}/courses/7", status=403, body="403 Forbidden (Rate Limit Exceeded)")
    client, _ = make_client(max_retries=2)
    with pytest.raises(CanvasThrottledError, match="rate limit"):
        client.get_course("7")
    assert client.request_count == 3


@responses.activate
def test_low_rate_limit_remaining_slows_down_before_next_call():
    responses.get(f"{API}/courses/7", json={"id": 7}, headers={"X-Rate-Limit-Remaining": "50.0"})
    client, sleeps = make_client()
    client.get_course("7")
    assert sleeps == []  # the pause is taken before the next request, not after this one
    client.get_course("7")
    # (150 + 2 others in flight x 50 up-front - 50) / 10 units a second = 20 s, capped at 5 s
    assert sleeps == [5.0] and client.parallel == 3


@responses.activate
def test_5xx_and_timeouts_are_retried_with_backoff_then_succeed():
    url = f"{API}/courses/7"
    responses.get(url, status=502)
    responses.get(url, body=requests.ConnectTimeout("slow"))
    responses.get(url, body=requests.ConnectionError("reset"))
    responses.get(url, json={"id": 7, "name": "ok"})
    client, sleeps = make_client(max_retries=3)
    assert client.get_course("7").name == "ok"
    assert client.request_count == 4
    assert len(sleeps) == 3
    assert all(0 <= s <= 30 for s in sleeps)


@responses.activate
def test_outage_after_bounded_retries_is_unavailable_error():
    responses.get(f"{API}/courses/7", status=503)
    client, sleeps = make_client(max_retries=2)
    with pytest.raises(CanvasUnavailableError, match=r"server error .*3 attempts"):
        client.get_course("7")
    assert client.request_count == 3
    assert len(sleeps) == 2  # no pointless wait after the last attempt


@responses.activate
def test_a_page_that_is_not_whole_json_is_asked_again_never_read_as_the_end_of_the_list():
    """A 200 whose body is cut short or is a proxy's HTML page (chaos run: truncated pages, malformed
    JSON) is retried like a 5xx; before, the JSON error escaped the client and the sync failed as an
    unexpected error. A connection closed before the announced Content-Length is retried too."""
    url = f"{API}/courses/7/enrollments"
    responses.get(url, body='[{"id": 1, "user_id": 42, "type": "StudentEn', content_type="application/json")
    responses.get(url, body="<html><body>502 Bad Gateway</body></html>", content_type="application/json")
    responses.get(url, body=requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read, 90 more)"))
    responses.get(url, json=[{"id": 1, "user_id": 42, "type": "StudentEnrollment", "user": {"id": 42}}])
    client, sleeps = make_client(max_retries=3)
    assert [e.id for e in client.list_enrollments("7")] == ["1"]
    assert client.request_count == 4 and len(sleeps) == 3


@responses.activate
def test_answers_still_not_json_after_every_retry_are_an_incomplete_answer_error():
    responses.get(f"{API}/courses/7", body='{"id": 7, "na', content_type="application/json")
    client, _ = make_client(max_retries=2)
    with pytest.raises(CanvasIncompleteAnswerError, match=r"not valid JSON.*3 attempts") as caught:
        client.get_course("7")
    assert caught.value.kind == "incomplete"
    assert isinstance(caught.value, CanvasUnavailableError)  # a transient outage to every caller
    assert client.request_count == 3


@responses.activate
def test_revoked_token_401_is_auth_error_in_plain_words_and_not_retried():
    responses.get(f"{API}/courses/7", status=401, json={"errors": [{"message": "Invalid access token."}]})
    client, _ = make_client()
    with pytest.raises(CanvasAuthError) as info:
        client.get_course("7")
    assert "the Canvas API token was revoked or is invalid: ask your Canvas admin" in str(info.value)
    assert client.request_count == 1


@responses.activate
def test_permission_and_not_found_errors():
    # lib/authentication_methods.rb render_json_unauthorized: a missing permission is a 401 without WWW-Authenticate.
    responses.get(
        f"{API}/courses/7",
        status=401,
        json={"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]},
    )
    responses.get(
        f"{API}/courses/8", status=404, json={"errors": [{"message": "The specified resource does not exist."}]}
    )
    client, _ = make_client()
    with pytest.raises(CanvasPermissionError, match="may not read this"):
        client.get_course("7")
    with pytest.raises(CanvasNotFoundError, match="does not exist"):
        client.get_course("8")


def test_missing_token_or_base_url_is_configuration_error():
    with pytest.raises(CanvasConfigurationError, match="no Canvas API token"):
        CanvasClient(SimpleNamespace(api_base_url=BASE, api_token=""))
    with pytest.raises(CanvasConfigurationError, match="API base URL"):
        CanvasClient(SimpleNamespace(api_base_url="", api_token="x"))


@responses.activate
def test_assignments_carry_group_names_and_rubric_criteria():
    responses.get(f"{API}/courses/7/assignment_groups", json=[{"id": 3, "name": "Credentialing Assessments"}])
    responses.get(
        f"{API}/courses/7/assignments",
        json=[
            {
                "id": 55,
                "course_id": 7,
                "name": "Clean a data set",
                "points_possible": 12.0,
                "grading_type": "points",
                "assignment_group_id": 3,
                "published": True,
                "rubric_settings": {"id": 9, "title": "Badge rubric"},
                "rubric": [
                    {
                        "id": "_8027",
                        "description": "Skill A",
                        "points": 4.0,
                        "ratings": [{"id": "r1", "description": "Meets", "points": 4.0}],
                    }
                ],
            }
        ],
    )
    client, _ = make_client()
    [assignment] = client.list_assignments("7")
    assert assignment.id == "55"
    assert assignment.assignment_group_name == "Credentialing Assessments"
    assert assignment.points_possible == Decimal("12.0")
    assert assignment.rubric_title == "Badge rubric"
    assert assignment.rubric[0].ratings[0].points == Decimal("4.0")
    assert assignment.rubric_json()[0]["ratings"][0] == {"id": "r1", "description": "Meets", "points": 4.0}


@responses.activate
def test_submissions_query_and_records():
    from datetime import UTC, datetime

    responses.get(
        f"{API}/courses/7/students/submissions",
        match=[
            matchers.query_param_matcher(
                {
                    "include[]": "rubric_assessment",
                    "student_ids[]": "all",
                    "assignment_ids[]": ["55", "56"],
                    "graded_since": "2026-01-02T03:04:05Z",
                    "per_page": "100",
                }
            )
        ],
        json=[
            {
                "id": 501,
                "assignment_id": 55,
                "user_id": 42,
                "score": 10.0,
                "grade": "10",
                "workflow_state": "graded",
                "graded_at": "2026-01-03T00:00:00Z",
                "posted_at": None,
                "rubric_assessment": {"_8027": {"points": 4.0, "rating_id": "r1", "comments": ""}},
            }
        ],
    )
    client, _ = make_client()
    [sub] = client.list_submissions(
        "7", assignment_ids=["55", "56"], graded_since=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert sub.user_id == "42" and sub.score == Decimal("10.0")
    assert not sub.is_posted
    assert sub.rubric_assessment["_8027"].rating_id == "r1"


@responses.activate
def test_primary_email_from_profile_else_first_channel():
    responses.get(f"{API}/users/42/profile", json={"id": 42, "primary_email": " Ada@Uni.edu "})
    responses.get(
        f"{API}/users/43/profile",
        status=401,
        json={"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]},
    )
    responses.get(
        f"{API}/users/43/communication_channels",
        json=[
            {"id": 2, "address": "second@uni.edu", "type": "email", "position": 2, "workflow_state": "active"},
            {"id": 3, "address": "+15551234", "type": "sms", "position": 1, "workflow_state": "active"},
            {"id": 1, "address": "first@uni.edu", "type": "email", "position": 1, "workflow_state": "active"},
        ],
    )
    client, _ = make_client()
    assert client.get_user_primary_email("42") == "Ada@Uni.edu"
    assert client.get_user_primary_email("43") == "first@uni.edu"


@responses.activate
def test_error_on_a_later_page_reaches_the_caller_and_abandoning_a_list_stops_fetching():
    page2 = f"{API}/courses/7/users?page=2"
    responses.get(f"{API}/courses/7/users", json=[{"id": 1}], headers={"Link": f'<{page2}>; rel="next"'})
    responses.get(
        page2,
        status=401,
        json={"errors": [{"message": "Invalid access token."}]},
        headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
    )
    client, _ = make_client()
    users = client.list_users_with_email("7")
    assert next(users).id == "1"
    with pytest.raises(CanvasAuthError):
        next(users)

    pages = 30
    for n in range(1, pages + 1):
        link = {"Link": f'<{API}/p{n + 1}>; rel="next"'} if n < pages else {}
        url = f"{API}/courses/8/users" if n == 1 else f"{API}/p{n}"
        responses.get(url, json=[{"id": n}], headers=link)
    client, _ = make_client()
    users = client.list_users_with_email("8")
    assert next(users).id == "1"
    users.close()
    # Only the pages fetched ahead of the reader (PREFETCH_PAGES) were read, never the whole list.
    assert client.request_count <= 2 + PREFETCH_PAGES < pages


@responses.activate
def test_throttling_slows_the_sync_down_far_longer_than_outages_are_retried():
    # Canvas keeps refusing for a while (other syncs share the token's bucket): the client keeps
    # waiting, longer each time, well past the small retry budget for server errors.
    url = f"{API}/courses/7"
    for _ in range(8):
        responses.get(url, status=403, body="403 Forbidden (Rate Limit Exceeded)")
    responses.get(url, json={"id": 7, "name": "Data Skills"})
    client, sleeps = make_client(max_retries=2, max_throttle_waits=MAX_THROTTLE_WAITS)  # as the sync does
    assert client.get_course("7").name == "Data Skills"
    assert client.throttle_waits == 8 and len(sleeps) == 8
    assert sleeps[-1] > sleeps[0] and sum(sleeps) > 60  # minutes of patience, not seconds
    assert all(s <= 30 for s in sleeps)
