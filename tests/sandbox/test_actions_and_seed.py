"""Teacher and admin actions (services, the JSON admin API, the sandbox pages), seeding, W001."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils.html import escape

from badging.models import CourseBadge
from lti.models import Platform
from sandbox.checks import sandbox_in_production
from sandbox.models import (
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
)
from sandbox.seed.instances import sandbox_seed
from sandbox.services.base import SandboxError
from sandbox.services.grades import GradeInput, letter_grade, submission_grade


def _user(seeded, name):
    return SandboxUser.objects.get(instance=seeded.instance, name=name)


def _admin_post(client, seeded, path, body, token=None):
    return client.post(
        f"/sandbox/{seeded.instance.slug}/admin_api/v1/{path}",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token or seeded.api_token}"},
    )


def test_grading_with_rubric_ratings_computes_scores_like_canvas(seeded, teacher):
    sofia = _user(seeded, "Sofía Herrera")
    assessments = list(SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False))
    first = assessments[0]
    ratings = {c["id"]: c["ratings"][1]["id"] for c in first.rubric.data}  # "Meets": 3 of 4 each
    submission = submission_grade(
        assignment=first, user=sofia, grader=teacher, grade=GradeInput(ratings=ratings), post=False
    )
    assert submission.score == Decimal(9) and submission.workflow_state == "graded"
    assert submission.rubric_assessment[first.rubric.data[0]["id"]] == {
        "points": 3.0,
        "rating_id": ratings[first.rubric.data[0]["id"]],
        "comments": "",
    }
    enrollment = SandboxEnrollment.objects.get(course=seeded.course, user=sofia)
    # Unposted: graders' unposted_* see it, the posted scores do not.
    assert enrollment.current_score is None and enrollment.unposted_current_score == Decimal("75.00")
    submission_grade(assignment=first, user=sofia, grader=teacher, grade=GradeInput(ratings=ratings), post=True)
    enrollment.refresh_from_db()
    assert enrollment.current_score == Decimal("75.00")
    # final_score counts the ungraded published work (the other assessment and 2 homework) as zero.
    total = sum(a.points_possible for a in SandboxAssignment.objects.filter(course=seeded.course, published=True))
    assert enrollment.final_score == (Decimal(900) / total).quantize(Decimal("0.01"))
    assert letter_grade(enrollment.current_score) == "C"


def test_grading_refuses_bad_input(seeded, teacher):
    assessment = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()
    sofia = _user(seeded, "Sofía Herrera")
    with pytest.raises(SandboxError, match="unknown rubric criteria"):
        submission_grade(assignment=assessment, user=sofia, grader=teacher, grade=GradeInput(ratings={"_x": "r"}))
    with pytest.raises(SandboxError, match="not a student"):
        submission_grade(assignment=assessment, user=teacher, grader=teacher, grade=GradeInput(score=Decimal(1)))


def test_admin_api_requires_an_admin_token(client, seeded, student_api):
    assert _admin_post(client, seeded, "faults", {}, token="nope").status_code == 401
    assert _admin_post(client, seeded, "faults", {}, token=student_api.token).status_code == 401


def test_admin_api_grade_override_email_enroll_drop(client, seeded):
    course = seeded.course
    sofia = _user(seeded, "Sofía Herrera")
    assessment = SandboxAssignment.objects.filter(course=course, rubric__isnull=False).first()
    ratings = {c["id"]: c["ratings"][0]["id"] for c in assessment.rubric.data}
    body = {"user_id": sofia.id, "assignment_id": assessment.id, "ratings": ratings, "post": False}
    graded = _admin_post(client, seeded, f"courses/{course.id}/grade", body)
    assert graded.status_code == 200 and graded.json()["score"] == 12.0 and graded.json()["posted"] is False
    posted = _admin_post(client, seeded, f"courses/{course.id}/assignments/{assessment.id}/post_grades", {})
    assert posted.json()["posted"] >= 1
    assert Submission.objects.get(assignment=assessment, user=sofia).posted_at is not None

    assert _admin_post(client, seeded, f"courses/{course.id}/override", {"user_id": sofia.id, "score": 93}).json()["ok"]
    assert SandboxEnrollment.objects.get(course=course, user=sofia).override_score == Decimal(93)
    _admin_post(client, seeded, f"courses/{course.id}/override", {"user_id": sofia.id, "score": None})
    assert SandboxEnrollment.objects.get(course=course, user=sofia).override_score is None

    changed = _admin_post(client, seeded, f"users/{sofia.id}/primary_email", {"address": "sofia@new.example"})
    assert changed.json()["address"] == "sofia@new.example"
    assert sofia.primary_email == "sofia@new.example"
    bad = _admin_post(client, seeded, f"users/{sofia.id}/primary_email", {"address": "not an email"})
    assert bad.status_code == 400 and bad.json()["error"] == "enter an email address"

    enrolled = _admin_post(client, seeded, f"courses/{course.id}/enroll", {"name": "Nia Okafor", "email": "nia@x.edu"})
    enrollment_id = enrolled.json()["enrollment_id"]
    # Canvas keeps a submission row per student and assignment.
    assert Submission.objects.filter(user_id=enrolled.json()["user_id"]).count() == 5
    dropped = _admin_post(
        client, seeded, f"courses/{course.id}/enrollments/{enrollment_id}/state", {"state": "deleted"}
    )
    assert dropped.json()["state"] == "deleted"
    concluded = _admin_post(
        client, seeded, f"courses/{course.id}/enrollments/{enrollment_id}/state", {"state": "completed"}
    )
    assert concluded.json()["state"] == "completed"
    assert _admin_post(client, seeded, f"courses/{course.id}/override", {"user_id": 999999}).status_code == 404


def test_admin_api_adds_an_assessment_and_sets_faults(client, seeded, api):
    body = {"name": "Assessment 3: Ethics & <privacy>", "criteria": ["Consent", "Anonymisation"]}
    added = _admin_post(client, seeded, f"courses/{seeded.course.id}/assessments", body)
    assert added.status_code == 200
    groups = api.get(f"/courses/{seeded.course.id}/assignment_groups", {"include[]": "assignments"}).json()
    names = [a["name"] for a in groups[0]["assignments"]]
    assert names[-1] == "Assessment 3: Ethics & <privacy>"
    assert groups[0]["assignments"][-1]["points_possible"] == 8.0
    faults = _admin_post(
        client, seeded, "faults", {"latency_ms": 5, "error_rate": 0.25, "bucket_size": 300, "truncated_rate": 0.5}
    )
    assert faults.json() == {
        "ok": True,
        "latency_ms": 5,
        "error_rate": 0.25,
        "malformed_rate": 0.0,
        "truncated_rate": 0.5,
        "bucket_size": 300.0,
        "request_cost": None,
    }
    assert _admin_post(client, seeded, "faults", {"error_rate": 2}).status_code == 400
    assert _admin_post(client, seeded, "faults", {"malformed_rate": 1.5}).status_code == 400
    assert _admin_post(client, seeded, "keys/rotate", {}).json()["kid"]


def test_sandbox_pages_render_and_teacher_actions_work(client, seeded):
    course, slug = seeded.course, seeded.instance.slug
    people = client.get(f"/sandbox/{slug}/courses/{course.id}/")
    text = people.content.decode()
    assert people.status_code == 200
    assert "Zoë O&#x27;Brien &lt;b&gt;" in text  # escaped, never interpreted
    assert "Launch Badges as Zoë" in text
    sofia = _user(seeded, "Sofía Herrera")
    page = f"/sandbox/{slug}/courses/{course.id}/users/{sofia.id}/"
    assert client.get(page).status_code == 200
    response = client.post(page, {"action": "override", "override_score": "88"}, follow=True)
    assert "Final grade override set to 88% for Sofía Herrera." in response.content.decode()
    assessment = SandboxAssignment.objects.filter(course=course, rubric__isnull=False).first()
    form = {"action": "grade", "assignment_id": assessment.id, "post": "on"}
    form.update({f"rating_{c['id']}": c["ratings"][0]["id"] for c in assessment.rubric.data})
    response = client.post(page, form, follow=True)
    assert escape(f"Graded {assessment.name} for Sofía Herrera and posted the grade.") in response.content.decode()
    incomplete = client.post(page, {"action": "grade", "assignment_id": assessment.id}, follow=True)
    assert "choose a rating for every criterion" in incomplete.content.decode()
    settings_page = client.get(f"/sandbox/{slug}/courses/{course.id}/settings/")
    assert settings_page.status_code == 200 and "Rotate platform key" in settings_page.content.decode()
    tool = client.get(f"/sandbox/{slug}/courses/{course.id}/external_tools/badges/?as={sofia.id}")
    assert "frame-src 'self' http://localhost:8000" in tool["Content-Security-Policy"]
    assert 'name="tool_content"' in tool.content.decode()


def test_seed_covers_every_learner_state(seeded):
    course = seeded.course
    students = SandboxEnrollment.objects.filter(course=course, type="StudentEnrollment")
    assert set(students.values_list("workflow_state", flat=True)) == {"active", "completed", "inactive", "deleted"}
    assert SandboxEnrollment.objects.filter(
        course=course, type="StudentViewEnrollment", user__is_test_user=True
    ).exists()
    assert students.filter(override_score__isnull=False).exists() and students.filter(override_score__isnull=True)
    assert Submission.objects.filter(
        assignment__course=course, workflow_state="graded", posted_at__isnull=True
    ).exists()
    assert SandboxEnrollment.objects.filter(course=course, type="TeacherEnrollment").count() == 1
    assert SandboxEnrollment.objects.filter(course=course, type="TaEnrollment").count() == 1
    assert SandboxUser.objects.filter(instance=seeded.instance, is_account_admin=True).count() == 1
    assert SandboxAssignment.objects.filter(course=course, group__name="Credentialing Assessments").count() == 2


def test_seed_is_idempotent_and_registers_the_tool(db):
    first = sandbox_seed(learners=6, assessments=1, slug="reg", base_url="http://localhost:8001")
    second = sandbox_seed(learners=6, assessments=1, slug="reg", base_url="http://localhost:8001")
    assert first.created and not second.created
    # The demo course, and the two concluded courses of the first learner's earlier badges (My badges).
    assert SandboxCourse.objects.filter(instance__slug="reg").count() == 3
    assert SandboxCourse.objects.filter(instance__slug="reg", workflow_state="completed").count() == 2
    assert SandboxUser.objects.filter(instance__slug="reg").count() == first.learners + 4  # staff + Test Student
    platform = Platform.objects.get(issuer="http://localhost:8001/sandbox/reg")
    assert platform.id == first.platform_id == second.platform_id
    assert platform.api_base_url == "http://localhost:8001/sandbox/reg"
    assert platform.auth_login_url.endswith("/sandbox/reg/api/lti/authorize_redirect")
    assert platform.keyset_url.endswith("/sandbox/reg/api/lti/security/jwks")
    assert platform.auth_token_url.endswith("/sandbox/reg/login/oauth2/token")
    assert platform.api_token == second.api_token  # the re-seed handed its new token to the tool
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == [first.instance.deployment_id]
    course_badge = CourseBadge.objects.get(course__platform=platform, active=True)  # the others: retired (My badges)
    assert course_badge.course.canvas_course_id == str(first.course.id)
    assert course_badge.assessment_group_name == "Credentialing Assessments"
    assert bytes(course_badge.badge_class.image).startswith(b"\x89PNG")


def test_seed_command(db, capsys):
    call_command("sandbox_seed", "--learners", "3", "--assessments", "1", "--instance", "cmd", "--no-register")
    out = capsys.readouterr().out
    assert "Seeded 'Data Skills for Everyone — Autumn <2026>' with 3 learners." in out
    assert "Open: http://localhost:8001/sandbox/cmd/courses/" in out
    assert SandboxInstance.objects.filter(slug="cmd").exists()


def test_w001_warns_when_enabled_without_debug(settings):
    settings.SANDBOX_ENABLED, settings.DEBUG = True, False
    assert [w.id for w in sandbox_in_production(None)] == ["sandbox.W001"]
    settings.DEBUG = True
    assert sandbox_in_production(None) == []


def test_grading_and_overrides_post_signed_live_events(seeded, teacher, client, django_capture_on_commit_callbacks):
    import jwt
    import responses

    instance = seeded.instance
    instance.live_events_url = "http://tool.test/events/canvas/"
    instance.save()
    sofia = _user(seeded, "Sofía Herrera")
    assessment = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()
    with responses.RequestsMock() as mock:
        mock.post("http://tool.test/events/canvas/", status=202)
        with django_capture_on_commit_callbacks(execute=True):
            submission_grade(assignment=assessment, user=sofia, grader=teacher, grade=GradeInput(score=Decimal(7)))
        with django_capture_on_commit_callbacks(execute=True):
            from sandbox.services.grades import grade_override_set

            grade_override_set(course=seeded.course, user=sofia, score=Decimal(90))
        with django_capture_on_commit_callbacks(execute=True):
            from sandbox.services.people import enrollment_create, user_create

            newcomer = user_create(instance=instance, name="Nia Okafor", email="nia@x.edu")
            enrollment_create(course=seeded.course, user=newcomer)
        bodies = [call.request.body for call in mock.calls]
        assert {call.request.headers["Content-Type"] for call in mock.calls} == {"application/jwt"}
    keys = client.get("/sandbox/live-events/jwks").json()["keys"]
    events = []
    for body in bodies:
        token = body.decode() if isinstance(body, bytes) else body
        kid = jwt.get_unverified_header(token)["kid"]
        key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid)).key
        events.append(jwt.decode(token, key, algorithms=["RS256"]))
    names = [e["metadata"]["event_name"] for e in events]
    # Grading: the grade, the submission, the learner's course scores; then the override; then the
    # newcomer's enrollment and its first course scores.
    assert names == [
        "grade_change",
        "submission_updated",
        "course_grade_change",
        "grade_override",
        "enrollment_created",
        "course_grade_change",
    ]
    grade, _, scores, override, enrolled, _ = events
    assert enrolled["body"]["user_id"] == str(10**13 + newcomer.id) and enrolled["body"]["workflow_state"] == "active"
    assert grade["metadata"]["context_type"] == "Course"
    assert grade["metadata"]["context_id"] == str(10**13 + seeded.course.id)  # a global id, as Canvas
    assert grade["body"]["user_id"] == str(10**13 + sofia.id) and grade["body"]["score"] == 7.0
    assert scores["body"]["user_id"] == str(sofia.id) and scores["body"]["course_id"] == str(seeded.course.id)
    assert override["body"]["override_score"] == 90.0 and override["body"]["course_id"] == str(seeded.course.id)


def test_a_token_only_opens_its_own_instance(client, seeded, db):
    other = sandbox_seed(learners=2, assessments=1, slug="other", base_url="http://testserver", register_in_tool=False)
    response = client.get(
        f"/sandbox/other/api/v1/courses/{other.course.id}", headers={"Authorization": f"Bearer {seeded.api_token}"}
    )
    assert response.status_code == 401
    response = client.get(
        f"/sandbox/t/api/v1/courses/{other.course.id}", headers={"Authorization": f"Bearer {seeded.api_token}"}
    )
    assert response.status_code == 404


def test_concluding_the_course_completes_active_enrollments(client, seeded, api):
    concluded = _admin_post(client, seeded, f"courses/{seeded.course.id}/conclude", {})
    assert concluded.status_code == 200 and concluded.json()["concluded"] > 0
    states = {
        e["enrollment_state"]
        for e in api.get(
            f"/courses/{seeded.course.id}/enrollments",
            {"type[]": "StudentEnrollment", "state[]": ["active", "completed"], "per_page": 100},
        ).json()
    }
    assert states == {"completed"}
    assert api.get(f"/courses/{seeded.course.id}").json()["workflow_state"] == "completed"
    # Inactive and dropped enrollments stay as they were.
    assert SandboxEnrollment.objects.filter(course=seeded.course, workflow_state="deleted").exists()


def test_sandbox_pages_refuse_bad_input_politely(client, seeded):
    base = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}"
    assert client.get(f"{base}/external_tools/badges/?as=abc").status_code == 404
    response = client.post(f"{base}/settings/", {"action": "faults", "latency_ms": "lots"}, follow=True)
    assert "Enter numbers in the number fields." in response.content.decode()
    response = client.post(f"{base}/settings/", {"action": "faults", "error_rate": "3"}, follow=True)
    assert "the error rate is a share between 0 and 1" in response.content.decode()


def test_settings_page_saves_a_live_events_url_and_refuses_one_that_is_not_a_url(client, seeded):
    base = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}"

    response = client.post(f"{base}/settings/", {"action": "live_events", "live_events_url": "not a url"}, follow=True)

    assert response.status_code == 200
    assert "Enter a valid URL." in response.content.decode()
    seeded.instance.refresh_from_db()
    assert seeded.instance.live_events_url == ""

    url = "http://tool.test/events/canvas/k/"
    response = client.post(f"{base}/settings/", {"action": "live_events", "live_events_url": url}, follow=True)

    assert "Live Events URL saved." in response.content.decode()
    seeded.instance.refresh_from_db()
    assert seeded.instance.live_events_url == url


def test_settings_page_unpublishes_an_assignment_and_turns_final_grade_override_off(client, seeded):
    """As a teacher does in Canvas (Assignments → unpublish; Grades → Settings → Advanced → Allow final
    grade override), with the REST API answering accordingly (courses_controller.rb `api_settings`;
    submissions_api_controller.rb `for_students` refuses the unpublished id)."""
    import html

    from sandbox.models import SandboxAssignment

    base = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}"
    assignment = SandboxAssignment.objects.filter(course=seeded.course, published=True).first()
    response = client.post(
        f"{base}/settings/", {"action": "publish", "assignment_id": assignment.id, "published": "0"}, follow=True
    )
    assert f"Unpublished {assignment.name}." in html.unescape(response.content.decode())
    response = client.post(f"{base}/settings/", {"action": "final_grade_override", "allowed": "0"}, follow=True)
    assert "Final grade override is now not allowed in this course." in response.content.decode()

    api = f"/sandbox/{seeded.instance.slug}/api/v1/courses/{seeded.course.id}"
    headers = {"Authorization": f"Bearer {seeded.api_token}"}
    assert client.get(f"{api}/settings", headers=headers).json()["allow_final_grade_override"] is False
    refused = client.get(
        f"{api}/students/submissions", {"student_ids[]": "all", "assignment_ids[]": assignment.id}, headers=headers
    )
    assert refused.status_code == 403
