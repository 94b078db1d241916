"""Each REST and NRPS answer against the documented Canvas example for its endpoint (as trimmed in
shared/reference/lti-canvas.md §B2): every documented key is present, with the documented JSON type
(a documented value may be null in a particular answer; nested objects and list items are checked
the same way)."""

from sandbox.models import Rubric, SandboxAssignment, SandboxUser

# Canvas Courses API, the Course object (GET /courses/:id), the fields the example documents.
COURSE = {
    "id": 370663, "sis_course_id": None, "uuid": "WvAHhY5FINzq5IyRIJybGeiXyFkG3SqHUPb7jZY5",
    "integration_id": None, "name": "InstructureCon 2012", "course_code": "INSTCON12", "workflow_state": "available",
    "account_id": 81259, "root_account_id": 81259, "enrollment_term_id": 34, "created_at": "2012-05-30T17:00:00Z",
    "start_at": "2012-06-01T00:00:00-06:00", "end_at": "2012-09-01T00:00:00-06:00", "locale": "en",
    "calendar": {"ics": "https://canvas.instructure.com/feeds/calendars/course_abcdef.ics"},
    "default_view": "feed", "is_public": True, "public_syllabus": True, "apply_assignment_group_weights": True,
    "hide_final_grades": False, "restrict_enrollments_to_course_dates": False, "time_zone": "America/Denver",
    "blueprint": False, "template": False,
}  # fmt: skip
ASSIGNMENT = {
    "id": 55, "course_id": 7, "name": "Credentialing assessment", "points_possible": 12.0, "grading_type": "points",
    "assignment_group_id": 3, "published": True, "html_url": "…", "use_rubric_for_grading": True,
    "rubric_settings": {"id": 9, "title": "Badge rubric", "points_possible": 12.0,
                        "free_form_criterion_comments": False, "hide_score_total": False, "hide_points": False},
    "rubric": [{"id": "_8027", "description": "Skill A", "long_description": "", "points": 4.0,
                "criterion_use_range": False,
                "ratings": [{"id": "r1", "description": "Meets", "long_description": "", "points": 4.0}]}],
}  # fmt: skip
RUBRIC = {
    "id": 9, "title": "Badge rubric", "context_id": 7, "context_type": "Course", "points_possible": 12.0,
    "reusable": False, "read_only": False, "free_form_criterion_comments": False,
    "data": [{"id": "_8027", "description": "Skill A", "points": 4.0, "criterion_use_range": False,
              "ratings": [{"id": "r1", "criterion_id": "_8027", "description": "Meets", "points": 4.0}]}],
    "assessments": [{"id": 101, "rubric_id": 9, "rubric_association_id": 31, "score": 10.0,
                     "artifact_type": "Submission", "artifact_id": 501, "artifact_attempt": 1,
                     "assessment_type": "grading", "assessor_id": 3,
                     "data": [{"criterion_id": "_8027", "points": 4.0, "id": "r1", "comments": ""}]}],
    "associations": [{"id": 31, "association_id": 55, "association_type": "Assignment", "use_for_grading": True,
                      "purpose": "grading"}],
}  # fmt: skip
SUBMISSION = {
    "id": 501, "assignment_id": 55, "user_id": 42, "grader_id": 3, "attempt": 1, "score": 10.0, "grade": "10",
    "entered_score": 10.0, "workflow_state": "graded", "submitted_at": "…Z", "graded_at": "…Z", "posted_at": "…Z",
    "excused": False, "late": False, "missing": False,
    "rubric_assessment": {"_8027": {"points": 4.0, "rating_id": "r1", "comments": ""}},
}  # fmt: skip
ASSIGNMENT_GROUP = {"id": 3, "name": "…", "position": 1, "group_weight": 0.0, "rules": {}, "assignments": [ASSIGNMENT]}
ENROLLMENT = {
    "id": 900, "course_id": 7, "course_section_id": 8, "user_id": 42, "type": "StudentEnrollment",
    "role": "StudentEnrollment", "enrollment_state": "active",
    "grades": {"html_url": "…", "current_score": 83.3, "current_grade": "B", "final_score": 80.0, "final_grade": "B-",
               "override_score": 95.0, "override_grade": "A", "unposted_current_score": 83.3,
               "unposted_final_score": 80.0},
    "user": {"id": 42, "name": "Ada L", "sortable_name": "L, Ada", "short_name": "Ada", "login_id": "ada"},
}  # fmt: skip
USER = {"id": 42, "name": "…", "sortable_name": "…", "short_name": "…", "sis_user_id": None, "login_id": "ada",
        "email": "ada@uni.edu"}  # fmt: skip
CHANNEL = {
    "id": 16,
    "address": "ada@uni.edu",
    "type": "email",
    "position": 1,
    "user_id": 42,
    "workflow_state": "active",
}
PROFILE = {"id": 42, "name": "…", "short_name": "…", "sortable_name": "…", "primary_email": "ada@uni.edu",
           "login_id": "ada", "avatar_url": "…", "time_zone": "UTC", "locale": "en"}  # fmt: skip


def assert_shape(example, actual, where="$"):
    if example is None or actual is None:
        return  # documented as nullable, or null in this particular answer
    if isinstance(example, dict) and example and all(k.startswith("_") for k in example):
        # A map keyed by rubric criterion id ("_8027"): every entry has the documented value shape.
        assert isinstance(actual, dict) and actual, f"{where}: expected a map of criterion ids, got {actual!r}"
        for key, value in actual.items():
            assert key.startswith("_"), f"{where}: {key!r} is not a criterion id"
            assert_shape(next(iter(example.values())), value, f"{where}.{key}")
    elif isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in example.items():
            assert key in actual, f"{where}.{key} is missing"
            assert_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if example:
            assert actual, f"{where}: expected items"
            for i, item in enumerate(actual):
                assert_shape(example[0], item, f"{where}[{i}]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), f"{where}: expected true/false, got {actual!r}"
    elif isinstance(example, float):
        assert isinstance(actual, float), f"{where}: expected a decimal number, got {actual!r}"
    elif isinstance(example, int):
        assert isinstance(actual, int) and not isinstance(actual, bool), f"{where}: expected an integer, got {actual!r}"
    elif isinstance(example, str):
        assert isinstance(actual, str), f"{where}: expected text, got {actual!r}"


def test_course_example(api, seeded):
    assert_shape(COURSE, api.get(f"/courses/{seeded.course.id}").json())


def test_assignment_examples(api, seeded):
    course = seeded.course.id
    rubric_graded = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()
    assert_shape(ASSIGNMENT, api.get(f"/courses/{course}/assignments/{rubric_graded.id}").json())
    listed = [a for a in api.get(f"/courses/{course}/assignments", {"per_page": 100}).json() if "rubric" in a]
    assert_shape([ASSIGNMENT], listed)
    groups = api.get(f"/courses/{course}/assignment_groups", {"include[]": "assignments"}).json()
    credentialing = [g for g in groups if g["name"] == "Credentialing Assessments"]
    assert_shape([ASSIGNMENT_GROUP], credentialing)


def test_rubric_example(api, seeded):
    rubric = Rubric.objects.filter(course=seeded.course).first()
    body = api.get(
        f"/courses/{seeded.course.id}/rubrics/{rubric.id}", {"include[]": ["assessments", "associations"]}
    ).json()
    assert_shape(RUBRIC, body)


def test_submission_example(api, seeded):
    body = api.get(
        f"/courses/{seeded.course.id}/students/submissions",
        {"student_ids[]": "all", "include[]": "rubric_assessment", "workflow_state": "graded", "per_page": 100},
    ).json()
    with_rubric = [s for s in body if "rubric_assessment" in s]
    assert with_rubric
    assert_shape([SUBMISSION], with_rubric)


def test_enrollment_example(api, seeded):
    zoe = SandboxUser.objects.get(instance=seeded.instance, name="Zoë O'Brien <b>")
    body = api.get(f"/courses/{seeded.course.id}/enrollments", {"user_id": zoe.id, "include[]": "email"}).json()
    assert_shape([ENROLLMENT], body)


def test_users_channels_and_profile_examples(api, seeded):
    users = api.get(f"/courses/{seeded.course.id}/users", {"enrollment_type[]": "student", "include[]": "email"}).json()
    assert_shape([USER], users)
    zoe = SandboxUser.objects.get(instance=seeded.instance, name="Zoë O'Brien <b>")
    assert_shape([CHANNEL], api.get(f"/users/{zoe.id}/communication_channels").json())
    assert_shape(PROFILE, api.get(f"/users/{zoe.id}/profile").json())


def test_the_shape_check_catches_a_wrong_type():
    """The checker itself: a score sent as text, or a missing key, is caught."""
    import pytest

    with pytest.raises(AssertionError, match="expected a decimal number"):
        assert_shape(SUBMISSION, {**SUBMISSION, "score": "10"})
    with pytest.raises(AssertionError, match="posted_at is missing"):
        assert_shape(SUBMISSION, {k: v for k, v in SUBMISSION.items() if k != "posted_at"})
