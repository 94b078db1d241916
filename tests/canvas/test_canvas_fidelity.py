"""Contract tests: the Canvas client reads Canvas's answers as Canvas sends them (each test cites the
canvas-lms source), and the sandbox answers in the same shapes.

Client tests use `responses` with Canvas's exact answers; sandbox tests use the Django test client
against the sandbox's REST API (tests/sandbox/conftest.py's seeded course).
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest
import responses

from canvas import (
    CanvasAuthError,
    CanvasBadRequestError,
    CanvasClient,
    CanvasEnrollment,
    CanvasInvalidAssignmentsError,
    CanvasPermissionError,
    CanvasSubmission,
    CanvasThrottledError,
)
from canvas.records import CanvasAssignment
from sandbox.models import SandboxAssignment, SandboxEnrollment, SandboxUser
from sandbox.services.courses import assessment_add, course_final_grade_override_set
from sandbox.services.grades import GradeInput, submission_grade
from sandbox.services.keys import api_token_create
from tests.sandbox.conftest import Api, seeded  # noqa: F401 (fixture)

BASE = "https://uni.instructure.com"
API = BASE + "/api/v1"
UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def make_client(**kwargs):
    platform = SimpleNamespace(api_base_url=BASE, api_token="tok-123")
    return CanvasClient(platform, sleep=lambda s: None, max_retries=kwargs.pop("max_retries", 1), **kwargs)


# --- 1. Unpublished or deleted assessments ----------------------------------------------------------


@responses.activate
def test_invalid_assignment_ids_403_is_its_own_error_not_a_permission_problem():
    """app/controllers/submissions_api_controller.rb `for_students`: the requested ids are looked up
    among `@context.assignments.published`; any id missing there (unpublished or deleted) answers
    `render json: {error: "invalid assignment ids requested"}, status: :forbidden` for the whole request."""
    responses.get(
        f"{API}/courses/7/students/submissions", status=403, json={"error": "invalid assignment ids requested"}
    )
    client = make_client()
    with pytest.raises(CanvasInvalidAssignmentsError) as info:
        list(client.list_submissions("7", assignment_ids=["55", "56"]))
    assert "unpublished or deleted" in str(info.value)
    assert "teacher or admin" not in str(info.value)
    assert client.request_count == 1  # not retried: asking again cannot help


@pytest.mark.django_db
def test_sandbox_refuses_submissions_of_an_unpublished_or_unknown_assignment_like_canvas(client, seeded):  # noqa: F811
    """submissions_api_controller.rb `for_students` (see above): 403 for the whole request, not a
    silently shorter list."""
    api = Api(client, seeded, seeded.api_token)
    course = seeded.course
    published = SandboxAssignment.objects.filter(course=course, published=True).order_by("id").first()
    unpublished = SandboxAssignment.objects.filter(course=course, published=False).first()
    path = f"/courses/{course.id}/students/submissions"
    ok = api.get(path, {"student_ids[]": "all", "assignment_ids[]": [published.id]})
    assert ok.status_code == 200
    for ids in ([published.id, unpublished.id], [published.id, 987654]):
        refused = api.get(path, {"student_ids[]": "all", "assignment_ids[]": ids})
        assert refused.status_code == 403
        assert refused.json() == {"error": "invalid assignment ids requested"}


# --- 2. Final Grade Override --------------------------------------------------------------------------


@pytest.mark.django_db
def test_sandbox_course_settings_answer_allow_final_grade_override_to_teachers_only(client, seeded):  # noqa: F811
    """app/controllers/courses_controller.rb `api_settings` (GET /api/v1/courses/:course_id/settings)
    answers `allow_final_grade_override` (Course#allow_final_grade_override?) to callers with
    :read_as_admin; others get render_unauthorized_action (401 unauthorized)."""
    api = Api(client, seeded, seeded.api_token)
    course = seeded.course
    assert api.get(f"/courses/{course.id}/settings").json()["allow_final_grade_override"] is True
    course_final_grade_override_set(course=course, allowed=False)
    assert api.get(f"/courses/{course.id}/settings").json()["allow_final_grade_override"] is False
    learner = SandboxEnrollment.objects.filter(course=course, type="StudentEnrollment").first().user
    student_token = api_token_create(user=learner, purpose="student")
    refused = api.get(f"/courses/{course.id}/settings", token=student_token)
    assert refused.status_code == 401 and refused.json() == UNAUTHORIZED


@responses.activate
def test_client_reads_the_course_setting():
    """courses_controller.rb `api_settings`: `{"allow_final_grade_override": false, ...}`."""
    responses.get(f"{API}/courses/7/settings", json={"allow_final_grade_override": False, "hide_final_grades": False})
    assert make_client().get_course_settings("7").allow_final_grade_override is False


def test_override_is_read_at_the_top_level_of_the_enrollment_too_but_never_a_grading_periods():
    """lib/api/v1/user.rb `enrollment_json` puts the course override under `grades`
    (`override_score`/`override_grade`, app/models/enrollment.rb, only when the course allows Final
    Grade Override) and, for the grading-period views, `current_period_override_*`; some Canvas
    versions also answer `override_score` at the top level of the enrollment. The course's final grade
    is the course-level override wherever it is; a grading period's override is not."""
    top = CanvasEnrollment.from_api(
        {
            "id": 1,
            "user_id": 42,
            "type": "StudentEnrollment",
            "override_score": 91.5,
            "override_grade": "A-",
            "grades": {},
        }
    )
    assert top.grades.override_score == Decimal("91.5") and top.grades.override_grade == "A-"
    period_only = CanvasEnrollment.from_api(
        {
            "id": 2,
            "user_id": 43,
            "type": "StudentEnrollment",
            "grades": {"current_score": 70.0},
            "current_period_override_score": 95.0,
            "current_period_override_grade": "A",
        }
    )
    assert not period_only.grades.has_override


# --- 3. Late penalties and ignore_for_scoring ------------------------------------------------------


def test_submission_keeps_the_entered_score_before_late_penalties():
    """lib/api/v1/submission.rb: `score` is after the late/missing policy (Submission#score), with
    `entered_score`/`entered_grade` what the grader entered and `points_deducted` the difference."""
    sub = CanvasSubmission.from_api(
        {
            "id": 1,
            "assignment_id": 55,
            "user_id": 42,
            "score": 9.0,
            "entered_score": 12.0,
            "points_deducted": 3.0,
            "late": True,
            "workflow_state": "graded",
        }
    )
    assert sub.score == Decimal("9") and sub.entered_score == Decimal("12") and sub.points_deducted == Decimal("3")


def test_rubric_criterion_ignore_for_scoring_is_read():
    """lib/api/v1/assignment.rb serialises the rubric's criteria with `ignore_for_scoring` (rubric
    criteria data, app/graphql/types/rubric_criterion_type.rb `ignore_for_scoring`): such a criterion is
    rated but left out of the rubric's score (app/models/rubric.rb)."""
    a = CanvasAssignment.from_api(
        {
            "id": 55,
            "name": "A",
            "rubric": [
                {"id": "_1", "description": "Skill", "points": 4.0, "ratings": []},
                {"id": "_2", "description": "Outcome", "points": 4.0, "ignore_for_scoring": True, "ratings": []},
            ],
        }
    )
    assert [c["ignore_for_scoring"] for c in a.rubric_json()] == [False, True]


@pytest.mark.django_db
def test_sandbox_answers_entered_score_points_deducted_and_ignore_for_scoring(client, seeded):  # noqa: F811
    """lib/api/v1/submission.rb (score after deductions, entered_score before, points_deducted, late)
    and lib/api/v1/assignment.rb (criteria carry ignore_for_scoring; the score leaves them out)."""
    course = seeded.course
    api = Api(client, seeded, seeded.api_token)
    assignment = assessment_add(
        course=course, name="Late-policy check", criteria_titles=["Skill", "Outcome"], ignored_for_scoring=["Outcome"]
    )
    assert assignment.points_possible == Decimal(4)  # the ignored criterion is not part of the points
    criteria = {
        c["description"]: c for c in api.get(f"/courses/{course.id}/assignments/{assignment.id}").json()["rubric"]
    }
    assert criteria["Outcome"]["ignore_for_scoring"] is True and "ignore_for_scoring" not in criteria["Skill"]
    learner = (
        SandboxEnrollment.objects.filter(course=course, type="StudentEnrollment", workflow_state="active").first().user
    )
    teacher = SandboxUser.objects.get(instance=seeded.instance, name="Grace Hopper-Núñez")
    ratings = {c["id"]: c["ratings"][0]["id"] for c in assignment.rubric.data}  # 4 + 4 points rated
    submission_grade(
        assignment=assignment,
        user=learner,
        grader=teacher,
        grade=GradeInput(ratings=ratings, points_deducted=Decimal(1)),
    )
    rows = api.get(
        f"/courses/{course.id}/students/submissions",
        {"student_ids[]": [learner.id], "assignment_ids[]": [assignment.id], "include[]": "rubric_assessment"},
    ).json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["entered_score"], row["points_deducted"], row["score"], row["late"]) == (4.0, 1.0, 3.0, True)
    assert row["late_policy_status"] == "late"


# --- 4. Errors as Canvas sends them --------------------------------------------------------------------


@responses.activate
def test_each_canvas_error_shape_maps_to_its_own_typed_error():
    """lib/authentication_methods.rb `render_json_unauthorized`: a caller without the permission gets
    401 `{"status": "unauthorized", "errors": [{"message": "user not authorized to perform that
    action"}]}`; only a request without a usable user gets `WWW-Authenticate` (add_www_authenticate_header),
    and a bad or expired token answers 401 "Invalid access token." (AccessTokenError, application_controller.rb).
    app/middleware/request_throttle.rb `rate_limit_exceeded`: 403 "403 Forbidden (Rate Limit Exceeded)".
    Any other 403 is a controller refusing the request as asked (e.g. submissions_api_controller.rb)."""
    responses.get(f"{API}/courses/1", status=401, json=UNAUTHORIZED)
    responses.get(
        f"{API}/courses/2",
        status=401,
        json={"errors": [{"message": "Invalid access token."}]},
        headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
    )
    responses.get(f"{API}/courses/3", status=403, body="403 Forbidden (Rate Limit Exceeded)\n")
    responses.get(f"{API}/courses/4", status=403, json={"errors": [{"message": "feature disabled"}]})
    client = make_client(max_retries=1, max_throttle_waits=1)
    with pytest.raises(CanvasPermissionError) as permission:
        client.get_course("1")
    assert "user not authorized to perform that action" in str(permission.value)
    assert "revoked" not in str(permission.value) and permission.value.kind == "permission"
    with pytest.raises(CanvasAuthError) as auth:
        client.get_course("2")
    assert "revoked or is invalid" in str(auth.value) and auth.value.kind == "token"
    with pytest.raises(CanvasThrottledError):
        client.get_course("3")
    with pytest.raises(CanvasBadRequestError) as bad:
        client.get_course("4")
    assert not isinstance(bad.value, CanvasPermissionError) and "feature disabled" in str(bad.value)


@responses.activate
def test_email_fallback_runs_on_the_permission_401_and_never_uses_an_unconfirmed_channel():
    """lib/authentication_methods.rb: a profile the token's user may not read is 401 unauthorized (not
    403). app/models/communication_channel.rb: a channel is "unconfirmed" until its owner confirms it,
    "active" after; only a confirmed address may receive a learner's badge."""
    responses.get(f"{API}/users/43/profile", status=401, json=UNAUTHORIZED)
    responses.get(
        f"{API}/users/43/communication_channels",
        json=[
            {"id": 1, "address": "typo@uni.edu", "type": "email", "position": 1, "workflow_state": "unconfirmed"},
            {"id": 2, "address": "real@uni.edu", "type": "email", "position": 2, "workflow_state": "active"},
        ],
    )
    responses.get(f"{API}/users/44/profile", status=401, json=UNAUTHORIZED)
    responses.get(
        f"{API}/users/44/communication_channels",
        json=[{"id": 3, "address": "only@uni.edu", "type": "email", "position": 1, "workflow_state": "unconfirmed"}],
    )
    client = make_client()
    assert client.get_user_primary_email("43") == "real@uni.edu"
    assert client.get_user_primary_email("44") == ""


@responses.activate
def test_a_scoped_developer_key_without_the_endpoint_is_a_permission_problem_naming_scopes():
    """config/application.rb maps AccessTokenScopeError to 401 with "Insufficient scopes on access
    token." (lib/token_scopes.rb): not a bad token, a key that lacks a scope."""
    responses.get(
        f"{API}/courses/7/settings",
        status=401,
        json={"errors": [{"message": "Insufficient scopes on access token."}]},
    )
    with pytest.raises(CanvasPermissionError, match="add the GET scopes"):
        make_client().get_course_settings("7")
