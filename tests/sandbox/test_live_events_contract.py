"""The sandbox's Live Events against Canvas's documented examples, and the tool against the same.

Canvas sources (instructure/canvas-lms):
- doc/api/data_services/md/dynamic/data_service_canvas_grade.md (grade_change, grade_override,
  course_grade_change), data_service_canvas_submission.md (submission_updated),
  data_service_canvas_enrollment.md (enrollment_created, enrollment_updated),
  data_service_canvas_rubric.md (rubric_assessed): the payload examples below are theirs, trimmed
  to keys and values; data_service_canvas_event_metadata.md: event_time is
  yyyy-MM-ddTHH:mm:ss.SSSZ, a request's event carries the actor and request, a job's job_id/job_tag.
- lib/canvas/live_events.rb builds the bodies. Where it and the docs differ the code is followed:
  get_enrollment_data sends associated_user_id for observers only (the example shows it on a
  student) and adds course_uuid/user_uuid; get_submission_data adds posted_at; grade_changed adds
  assignment_name. grade_change, submission_* and enrollment_* bodies carry global ids
  (shard * 10**13 + id), grade_override and course_grade_change local ones, as the examples.
- lib/grade_calculator.rb create_course_grade_live_event: course_grade_change whenever one of
  current/final/unposted scores moved (grading, posting grades, a new enrollment's first scores).
- doc/api/data_services/md/static/data_service_setup.md: with "Sign Payload" the POST body is a JWT
  whose claims are the event; the receiver matches the JWT's kid to a key of the published key set,
  Instructure's (not the platform's LTI keys), which lists the previous, current and next key and
  rotates monthly.
"""

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import jwt
import pytest
import responses

from sandbox.models import SandboxAssignment, SandboxEnrollment
from sandbox.services.grades import GradeInput, assignment_grades_post, grade_override_set, submission_grade
from sandbox.services.people import enrollment_create, enrollment_state_set, user_create
from tests.sandbox.test_actions_and_seed import _user

pytestmark = pytest.mark.django_db

REQUEST_METADATA = {  # course_grade_change / rubric_assessed examples: an event of a user's request
    "root_account_uuid": "44fJ44GgJ29gJBsl43JLKgljsBIOTsbnKT48932g", "root_account_id": "10000000000001",
    "root_account_lti_guid": "794d72b707af6ea82cfe3d5d473f16888a8366c7.canvas.docker",
    "user_login": "oxana@instructure.com", "user_account_id": "10000000000002", "user_sis_id": None,
    "user_id": "21070000000000001", "time_zone": "America/Denver", "context_type": "Course",
    "context_id": "21070000000000002", "context_sis_source_id": "194387", "context_account_id": "21070000000000003",
    "context_role": "TeacherEnrollment", "request_id": "98e1b771-fe22-4481-8264-d523dadb16b1",
    "session_id": "242872453a9d69f7ccddeb4788d22506", "hostname": "oxana.instructure.com", "http_method": "POST",
    "user_agent": "Mozilla/5.0", "client_ip": "93.184.216.34",
    "url": "http://oxana.instructure.com/courses/2/gradebook/update_submission",
    "referrer": "http://oxana.instructure.com/courses/2/gradebook/speed_grader?assignment_id=39&student_id=2",
    "producer": "canvas", "event_name": "course_grade_change", "event_time": "2019-12-11T16:26:34.552Z",
}  # fmt: skip
JOB_METADATA = {  # enrollment_updated example: an event of a background job
    "event_name": "enrollment_updated", "event_time": "2019-11-01T19:11:12.546Z", "job_id": "1020020528469291",
    "job_tag": "SIS::CSV::ImportRefactored#run_parallel_importer", "producer": "canvas",
    "root_account_id": "21070000000000001",
    "root_account_lti_guid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com",
    "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs",
}  # fmt: skip
BODIES = {
    "grade_change": {
        "assignment_id": "21070000000000355", "grade": "5", "grader_id": "21070000000000987",
        "grading_complete": True, "muted": False, "old_grade": "4", "old_points_possible": 1, "old_score": 4,
        "points_possible": 1, "score": 5, "student_id": "21070000000000048", "student_sis_id": "ABC.123",
        "submission_id": "21070000000011086", "user_id": "21070000000000048",
    },
    "submission_updated": {
        "assignment_id": "21070000000000396", "attempt": 1, "body": "user: 47", "grade": "S",
        "graded_at": "2018-10-09T21:29:57Z", "group_id": "120120", "late": False,
        "lti_assignment_id": "f7d76a11-95be-485b-8827-dbe8fdca3332", "lti_user_id": None, "missing": False,
        "score": 99.5, "submission_id": "21070000000011176", "submission_type": "online_quiz",
        "submitted_at": "2018-10-09T21:29:57Z", "updated_at": "2018-10-09T21:29:57Z", "url": None,
        "user_id": "21070000000000047", "workflow_state": "submitted",
    },
    "course_grade_change": {
        "user_id": "2", "course_id": "2", "workflow_state": "active", "created_at": "2019-12-04T13:32:21Z",
        "updated_at": "2019-12-11T16:26:34Z", "current_score": 17.31, "old_current_score": 13.46,
        "final_score": 12.5, "old_final_score": 9.72, "unposted_current_score": 17.31,
        "old_unposted_current_score": 13.46, "unposted_final_score": 12.5, "old_unposted_final_score": 9.72,
    },
    "grade_override": {
        "score_id": "43", "enrollment_id": "44", "user_id": "45", "course_id": "46", "grading_period_id": "47",
        "override_score": 90, "old_override_score": 85, "updated_at": "2019-11-15T07:46:18.697Z",
    },
    "enrollment_created": {
        "associated_user_id": "21070000000000562", "course_id": "21070000000000565",
        "course_section_id": "21070000000004811", "created_at": "2018-10-09T21:07:33Z",
        "enrollment_id": "21070000000046825", "limit_privileges_to_course_section": False,
        "type": "StudentEnrollment", "updated_at": "2018-10-09T21:07:33Z", "user_id": "21070000000020064",
        "user_name": "Isaac Newton", "workflow_state": "invited",
    },
    "rubric_assessed": {
        "id": "20", "aligned_to_outcomes": True, "artifact_id": "77", "artifact_type": "Submission",
        "assessment_type": "grading", "context_uuid": "eXFLLA43CbEg5A8biA87cEPjcpByVw64ULmEsRM5",
        "submitted_at": "2023-10-25T18:09:09.137Z", "created_at": "2023-10-25T18:09:09.137Z",
        "updated_at": "2023-10-25T19:01:21.137Z", "attempt": 1,
    },
}  # fmt: skip
BODIES["enrollment_updated"] = BODIES["enrollment_created"]
# Observers only, in the code (get_enrollment_data); the example shows it on a student.
OBSERVER_ONLY = {"associated_user_id"}
GLOBAL_IDS = {  # the ids each documented body carries as global ids
    "grade_change": ("submission_id", "assignment_id", "user_id", "student_id", "grader_id"),
    "submission_updated": ("submission_id", "assignment_id", "user_id"),
    "enrollment_created": ("enrollment_id", "course_id", "user_id", "course_section_id"),
    "enrollment_updated": ("enrollment_id", "course_id", "user_id", "course_section_id"),
}
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
URL = "http://tool.test/events/canvas/key/"


def json_type(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    return type(value)


def conforms(ours: dict, documented: dict, skip=frozenset()) -> list[str]:
    problems = []
    for key, example in documented.items():
        if key in skip:
            continue
        if key not in ours:
            problems.append(f"missing {key}")
        elif None not in (json_type(example), json_type(ours[key])) and json_type(example) != json_type(ours[key]):
            problems.append(f"{key}: {ours[key]!r} is not like {example!r}")
    return problems


@pytest.fixture
def emitted(seeded, client):
    """The signed events the sandbox posts, verified with its published key set and decoded."""
    instance = seeded.instance
    instance.live_events_url = URL
    instance.save()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(URL, status=204)
        tokens: list[str] = []

        def take():
            for call in rsps.calls[len(tokens) :]:
                body = call.request.body
                tokens.append(body.decode() if isinstance(body, bytes) else body)
                assert call.request.headers["Content-Type"] == "application/jwt"
            # Signed with the Live Events keys (Instructure's, for hosted Canvas), not the LTI ones.
            keys = {k["kid"]: k for k in client.get("/sandbox/live-events/jwks").json()["keys"]}
            lti_kids = {k["kid"] for k in client.get(f"/sandbox/{instance.slug}/api/lti/security/jwks").json()["keys"]}
            decoded = []
            for token in tokens:
                header = jwt.get_unverified_header(token)
                assert header["alg"] == "RS256" and header["kid"] not in lti_kids
                decoded.append(jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["RS256"]))
            return decoded

        yield take


def test_every_event_the_tool_listens_to_has_canvas_s_documented_shape(
    seeded, teacher, emitted, django_capture_on_commit_callbacks
):
    course = seeded.course
    sofia = _user(seeded, "Sofía Herrera")
    rubric_assessment = SandboxAssignment.objects.filter(course=course, rubric__isnull=False).first()
    ratings = {c["id"]: c["ratings"][0]["id"] for c in rubric_assessment.rubric.data}
    with django_capture_on_commit_callbacks(execute=True):
        submission_grade(
            assignment=rubric_assessment, user=sofia, grader=teacher, grade=GradeInput(ratings=ratings), post=False
        )
    with django_capture_on_commit_callbacks(execute=True):
        assignment_grades_post(assignment=rubric_assessment)
    with django_capture_on_commit_callbacks(execute=True):
        grade_override_set(course=course, user=sofia, score=Decimal(90))
    with django_capture_on_commit_callbacks(execute=True):
        newcomer = user_create(instance=seeded.instance, name="Nia Okafor", email="nia@x.edu")
        enrollment = enrollment_create(course=course, user=newcomer)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_state_set(enrollment=enrollment, state="inactive")
    events = emitted()

    names = [e["metadata"]["event_name"] for e in events]
    assert names == [
        # grading with a rubric, unposted: one request
        "grade_change", "submission_updated", "rubric_assessed", "course_grade_change",
        # posting the grades: the posted scores move
        "course_grade_change",
        "grade_override",
        "enrollment_created", "course_grade_change",  # the new student's first scores, by a job
        "enrollment_updated",
    ]  # fmt: skip
    for message in events:
        assert set(message) == {"metadata", "body"}
        metadata, body = message["metadata"], message["body"]
        name = metadata["event_name"]
        assert EVENT_TIME.match(metadata["event_time"]), metadata["event_time"]
        shape = JOB_METADATA if "job_id" in metadata else REQUEST_METADATA
        assert conforms(metadata, shape) == [], name
        assert metadata["root_account_lti_guid"] == seeded.instance.lti_guid
        assert metadata["context_type"] == "Course" and metadata["context_id"] == str(10**13 + course.id), name
        assert conforms(body, BODIES[name], skip=OBSERVER_ONLY) == [], name
        for key in GLOBAL_IDS.get(name, ()):
            assert body[key] is None or int(body[key]) >= 10**13, (name, key)
    grade, submission, rubric, scores, posted, override, created, first_scores, updated = events
    assert "job_id" in first_scores["metadata"] and "request_id" not in first_scores["metadata"]
    # One request (the teacher's grading) emits several events with one request_id.
    assert len({e["metadata"]["request_id"] for e in (grade, submission, rubric, scores)}) == 1
    assert grade["metadata"]["user_id"] == str(10**13 + teacher.id)
    assert grade["body"]["user_id"] == str(10**13 + sofia.id) and grade["body"]["muted"] is True
    assert submission["body"]["posted_at"] is None and submission["body"]["workflow_state"] == "graded"
    assert scores["body"]["user_id"] == str(sofia.id) and scores["body"]["course_id"] == str(course.id)
    assert scores["body"]["unposted_current_score"] is not None
    # Posting: the posted score moves from nothing to the grade, the unposted one stays.
    assert posted["body"]["old_current_score"] is None and posted["body"]["current_score"] is not None
    assert posted["body"]["unposted_current_score"] == posted["body"]["old_unposted_current_score"]
    assert override["body"]["override_score"] == 90.0 and override["body"]["user_id"] == str(sofia.id)
    assert created["body"]["user_id"] == str(10**13 + newcomer.id)
    assert updated["body"]["workflow_state"] == "inactive"


def test_a_score_change_outside_a_request_is_a_jobs_event(seeded, emitted, django_capture_on_commit_callbacks):
    from sandbox.services.grades import enrollment_grades_recompute

    enrollment = SandboxEnrollment.objects.filter(course=seeded.course, type="StudentEnrollment").first()
    SandboxEnrollment.objects.filter(pk=enrollment.pk).update(current_score=None, final_score=None)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_grades_recompute(course=seeded.course, user_ids=[enrollment.user_id])
    (event,) = emitted()
    assert event["metadata"]["event_name"] == "course_grade_change"
    assert conforms(event["metadata"], JOB_METADATA) == []
    assert "request_id" not in event["metadata"] and "user_id" not in event["metadata"]


def _documented(name: str, course_id: str, user_id: str) -> dict:
    """The documented example of `name`, in a course and for a learner of ours (global ids where
    the example has global ones)."""
    body = dict(BODIES[name])
    local = name in ("course_grade_change", "grade_override")
    body["course_id"] = course_id if local else str(10**13 + int(course_id))
    if "user_id" in body:
        body["user_id"] = user_id if local else str(10**13 + int(user_id))
    metadata = {
        **REQUEST_METADATA,
        "event_name": name,
        "event_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "context_id": str(10**13 + int(course_id)),
        "request_id": str(uuid.uuid4()),
    }
    metadata.pop("root_account_lti_guid")
    metadata.pop("root_account_uuid")
    return {"metadata": metadata, "body": body}


@responses.activate
def test_the_tool_acts_on_the_documented_examples(client, settings, enqueued, django_capture_on_commit_callbacks):
    from badging.services.sync import marks as sync_marks
    from tests import factories as f
    from tests.badging.test_live_events import JWK1, JWKS_URL, signed

    settings.LIVE_EVENTS_JWKS_URL = JWKS_URL
    responses.get(JWKS_URL, json={"keys": [JWK1]})
    badge = f.CourseBadgeFactory(course__canvas_course_id="565")
    url = f"/events/canvas/{badge.course.platform.live_events_key}/"
    expected = {
        "grade_change": ("postings",),
        "submission_updated": ("postings",),
        "course_grade_change": ("postings", "learners"),
        "grade_override": ("learners",),
        "enrollment_created": ("learners",),
        "enrollment_updated": ("learners",),
    }
    for name, marks in expected.items():
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data=signed(_documented(name, "565", "48")), content_type="application/jwt")
        assert response.status_code == 202, (name, response.content)
        assert response.json() == {"event": name, "courses": 1}
        assert (sync_marks._postings_marked_take(badge.course_id) == ["48"]) == ("postings" in marks), name
        assert (sync_marks._learners_marked_take(badge.course_id) == ["48"]) == ("learners" in marks), name


def test_the_live_events_key_set_lists_previous_current_and_next_and_rotates(client, seeded):
    from sandbox.live_events import sign
    from sandbox.services.keys import live_events_key_rotate

    first = {k["kid"] for k in client.get("/sandbox/live-events/jwks").json()["keys"]}
    assert len(first) == 2  # current and next (no previous before the first rotation)
    token = sign(instance=seeded.instance, message={"metadata": {}, "body": {}})
    current = jwt.get_unverified_header(token)["kid"]
    assert current in first
    live_events_key_rotate()
    after = {k["kid"] for k in client.get("/sandbox/live-events/jwks").json()["keys"]}
    assert len(after) == 3 and first <= after  # previous, current (the old next), a new next
    rotated = jwt.get_unverified_header(sign(instance=seeded.instance, message={"metadata": {}, "body": {}}))["kid"]
    assert rotated in first and rotated != current  # already published before it was used
    live_events_key_rotate()
    assert current not in {k["kid"] for k in client.get("/sandbox/live-events/jwks").json()["keys"]}
