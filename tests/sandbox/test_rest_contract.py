"""The sandbox answers the Canvas REST calls with Canvas's shapes (reference lti-canvas.md §B2),
field for field for the fields the tool reads, and with Canvas's visibility rules."""

from decimal import Decimal

from sandbox.models import (
    Rubric,
    SandboxAssignment,
    SandboxEnrollment,
    SandboxUser,
    Submission,
)
from sandbox.services.grades import GradeInput, grade_override_set, submission_grade
from sandbox.services.people import primary_email_set

# Keys of the documented examples in the reference sheet (which trims Canvas's docs to what we read).
ASSIGNMENT_KEYS = {"id", "course_id", "name", "points_possible", "grading_type", "assignment_group_id", "published",
                   "html_url", "use_rubric_for_grading", "rubric_settings", "rubric"}  # fmt: skip
RUBRIC_SETTINGS_KEYS = {"id", "title", "points_possible", "free_form_criterion_comments", "hide_score_total",
                        "hide_points"}  # fmt: skip
CRITERION_KEYS = {"id", "description", "long_description", "points", "criterion_use_range", "ratings"}
RATING_KEYS = {"id", "description", "long_description", "points"}
SUBMISSION_KEYS = {"id", "assignment_id", "user_id", "grader_id", "attempt", "score", "grade", "entered_score",
                   "workflow_state", "submitted_at", "graded_at", "posted_at", "excused", "late",
                   "missing"}  # fmt: skip
ENROLLMENT_KEYS = {"id", "course_id", "course_section_id", "user_id", "type", "role", "enrollment_state", "grades",
                   "user"}  # fmt: skip
GRADER_GRADES_KEYS = {"html_url", "current_score", "current_grade", "final_score", "final_grade",
                      "unposted_current_score", "unposted_final_score"}  # fmt: skip
USER_KEYS = {"id", "name", "sortable_name", "short_name", "sis_user_id", "login_id"}


def _user(seeded, name):
    return SandboxUser.objects.get(instance=seeded.instance, name=name)


def test_course(api, seeded):
    response = api.get(f"/courses/{seeded.course.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == seeded.course.id
    assert body["name"] == "Data Skills for Everyone — Autumn <2026>"
    assert body["course_code"] == "DATA-101"
    assert body["workflow_state"] == "available"
    assert response["Content-Type"].startswith("application/json")


def test_assignments_carry_rubric_and_rubric_settings(api, seeded):
    response = api.get(f"/courses/{seeded.course.id}/assignments", {"per_page": 100})
    assignments = response.json()
    rubric_graded = [a for a in assignments if "rubric" in a]
    assert len(rubric_graded) == 2
    first = rubric_graded[0]
    assert set(first) >= ASSIGNMENT_KEYS
    assert isinstance(first["id"], int) and isinstance(first["points_possible"], float)
    assert first["points_possible"] == 12.0
    assert set(first["rubric_settings"]) >= RUBRIC_SETTINGS_KEYS
    assert first["rubric_settings"]["points_possible"] == 12.0
    criterion = first["rubric"][0]
    assert set(criterion) >= CRITERION_KEYS
    assert criterion["id"].startswith("_")
    assert set(criterion["ratings"][0]) >= RATING_KEYS
    # HTML-special characters arrive as text, not escaped or stripped.
    assert "Handles missing <NA> values" in [c["description"] for a in rubric_graded for c in a["rubric"]]
    # No rubric: no rubric keys, as in Canvas.
    plain = next(a for a in assignments if a["name"] == "Weekly quiz 1")
    assert "rubric" not in plain and "rubric_settings" not in plain


def test_graders_see_unpublished_assignments_students_do_not(api, student_api, seeded):
    path = f"/courses/{seeded.course.id}/assignments"
    assert "Draft: final project" in [a["name"] for a in api.get(path, {"per_page": 100}).json()]
    assert "Draft: final project" not in [a["name"] for a in student_api.get(path, {"per_page": 100}).json()]


def test_assignment_detail_and_not_found(api, seeded):
    assignment = SandboxAssignment.objects.filter(course=seeded.course).first()
    body = api.get(f"/courses/{seeded.course.id}/assignments/{assignment.id}").json()
    assert body["id"] == assignment.id and body["rubric_settings"]["id"] == assignment.rubric_id
    missing = api.get(f"/courses/{seeded.course.id}/assignments/999999")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"message": "The specified resource does not exist."}]}


def test_assignment_groups_include_assignments(api, seeded):
    groups = api.get(f"/courses/{seeded.course.id}/assignment_groups", {"include[]": "assignments"}).json()
    assert [g["name"] for g in groups] == ["Credentialing Assessments", "Homework & Quizzes"]
    assert {"id", "name", "position", "group_weight", "rules", "assignments"} <= set(groups[0])
    assert [a["name"] for a in groups[0]["assignments"]] == [
        "Assessment 1: Data cleaning & validation",
        "Assessment 2: Visualising <data> for decisions",
    ]
    assert all(a["assignment_group_id"] == groups[0]["id"] for a in groups[0]["assignments"])
    without = api.get(f"/courses/{seeded.course.id}/assignment_groups").json()
    assert "assignments" not in without[0]


def test_rubric_with_assessments_and_associations(api, seeded):
    rubric = Rubric.objects.filter(course=seeded.course).first()
    body = api.get(
        f"/courses/{seeded.course.id}/rubrics/{rubric.id}", {"include[]": ["assessments", "associations"]}
    ).json()
    assert {"id", "title", "context_id", "context_type", "points_possible", "data", "assessments"} <= set(body)
    assert body["context_type"] == "Course" and body["points_possible"] == 12.0
    assert body["data"][0]["ratings"][0]["criterion_id"] == body["data"][0]["id"]
    assessment = body["assessments"][0]
    assert {"id", "rubric_id", "rubric_association_id", "score", "artifact_type", "artifact_id", "assessment_type",
            "data"} <= set(assessment)  # fmt: skip
    assert assessment["artifact_type"] == "Submission" and assessment["assessment_type"] == "grading"
    submission = Submission.objects.get(id=assessment["artifact_id"])
    assert assessment["score"] == float(submission.score)
    assert {d["criterion_id"] for d in assessment["data"]} == {c["id"] for c in rubric.data}
    assert body["associations"][0]["association_type"] == "Assignment"
    # A rubric of another course is "not found", as when it is not bookmarked in this course.
    assert api.get(f"/courses/{seeded.course.id}/rubrics/999999").json() == {"message": "Rubric not found"}


def test_submissions_for_all_students_with_rubric_assessment(api, seeded):
    assessment = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()
    items, _ = api.walk(
        f"/courses/{seeded.course.id}/students/submissions",
        {"student_ids[]": "all", "assignment_ids[]": assessment.id, "include[]": "rubric_assessment", "per_page": 5},
    )
    students = SandboxEnrollment.objects.filter(
        course=seeded.course, type__in=["StudentEnrollment", "StudentViewEnrollment"]
    ).exclude(workflow_state="deleted")
    assert {s["user_id"] for s in items} == set(students.values_list("user_id", flat=True))
    assert all(s["assignment_id"] == assessment.id for s in items)
    graded = [s for s in items if s["workflow_state"] == "graded"]
    assert graded, "the seed grades some learners"
    assert set(graded[0]) >= SUBMISSION_KEYS
    ratings = graded[0]["rubric_assessment"]
    assert set(ratings) <= {c["id"] for c in assessment.rubric.data}
    assert set(next(iter(ratings.values()))) == {"points", "rating_id", "comments"}
    # Graders also see unposted grades, with posted_at telling them apart.
    amelie = _user(seeded, "Amélie Dupont & Fils")
    last = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).last()
    unposted = api.get(
        f"/courses/{seeded.course.id}/students/submissions",
        {"student_ids[]": amelie.id, "assignment_ids[]": last.id, "include[]": "rubric_assessment"},
    ).json()[0]
    assert unposted["workflow_state"] == "graded" and unposted["score"] is not None
    assert unposted["posted_at"] is None


def test_submissions_filters_graded_since_and_workflow_state(api, seeded, teacher):
    assessment = SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()
    sofia = _user(seeded, "Sofía Herrera")
    before = api.get(
        f"/courses/{seeded.course.id}/students/submissions",
        {"student_ids[]": "all", "graded_since": "2099-01-01T00:00:00Z"},
    ).json()
    assert before == []
    submission = submission_grade(
        assignment=assessment,
        user=sofia,
        grader=teacher,
        grade=GradeInput(ratings={c["id"]: c["ratings"][0]["id"] for c in assessment.rubric.data}),
    )
    since = (submission.graded_at.replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = api.get(
        f"/courses/{seeded.course.id}/students/submissions", {"student_ids[]": "all", "graded_since": since}
    ).json()
    since_dt = submission.graded_at.replace(microsecond=0)
    expected = set(Submission.objects.filter(graded_at__gte=since_dt).values_list("id", flat=True))
    assert submission.id in {s["id"] for s in recent}
    assert {s["id"] for s in recent} == expected
    assert len(expected) < Submission.objects.filter(workflow_state="graded").count()
    unsubmitted = api.get(
        f"/courses/{seeded.course.id}/students/submissions",
        {"student_ids[]": "all", "workflow_state": "unsubmitted", "per_page": 100},
    ).json()
    assert unsubmitted and all(s["workflow_state"] == "unsubmitted" for s in unsubmitted)


def test_students_see_only_their_own_posted_grades(client, seeded, teacher):
    from sandbox.services.keys import api_token_create
    from tests.sandbox.conftest import Api

    course = seeded.course
    assessment = SandboxAssignment.objects.filter(course=course, rubric__isnull=False).first()
    sofia = _user(seeded, "Sofía Herrera")
    sofia_api = Api(client, seeded, api_token_create(user=sofia))
    ratings = {c["id"]: c["ratings"][0]["id"] for c in assessment.rubric.data}
    submission_grade(assignment=assessment, user=sofia, grader=teacher, grade=GradeInput(ratings=ratings), post=False)
    denied = sofia_api.get(f"/courses/{course.id}/students/submissions", {"student_ids[]": "all"})
    assert denied.status_code == 401
    params = {"assignment_ids[]": assessment.id, "include[]": "rubric_assessment"}
    mine = sofia_api.get(f"/courses/{course.id}/students/submissions", params).json()
    assert [s["user_id"] for s in mine] == [sofia.id]
    assert mine[0]["score"] is None and mine[0]["grade"] is None and "rubric_assessment" not in mine[0]
    assert mine[0]["posted_at"] is None
    # Once posted, the learner sees the grade and the rubric assessment.
    from sandbox.services.grades import assignment_grades_post

    assignment_grades_post(assignment=assessment)
    mine = sofia_api.get(f"/courses/{course.id}/students/submissions", params).json()
    assert mine[0]["score"] == 12.0 and set(mine[0]["rubric_assessment"]) == set(ratings)


def test_enrollments_with_grades_as_a_grader_sees_them(api, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    items = api.get(
        f"/courses/{seeded.course.id}/enrollments",
        {"type[]": "StudentEnrollment", "user_id": zoe.id, "include[]": "email"},
    ).json()
    assert len(items) == 1
    enrollment = items[0]
    assert set(enrollment) >= ENROLLMENT_KEYS
    assert GRADER_GRADES_KEYS | {"override_score", "override_grade"} <= set(enrollment["grades"])
    assert enrollment["grades"]["override_score"] in (88.0, 91.0, 95.0, 97.0)
    assert USER_KEYS | {"email"} <= set(enrollment["user"])
    assert enrollment["user"]["name"] == "Zoë O'Brien <b>"
    assert enrollment["user"]["email"] == "learner1@students.example.edu"
    # No override entered: no override_* keys at all.
    jose = _user(seeded, "José Núñez-García")
    jose_grades = api.get(f"/courses/{seeded.course.id}/enrollments", {"user_id": jose.id}).json()[0]["grades"]
    assert "override_score" not in jose_grades
    assert jose_grades["current_score"] == jose_grades["unposted_current_score"]


def test_enrollment_states_default_and_filter(api, seeded):
    path = f"/courses/{seeded.course.id}/enrollments"
    default = {e["enrollment_state"] for e in api.walk(path, {"per_page": 100})[0]}
    assert default == {"active"}
    states = {
        (e["user"]["name"], e["enrollment_state"])
        for e in api.walk(
            path, {"type[]": "StudentEnrollment", "state[]": ["completed", "deleted", "inactive"], "per_page": 100}
        )[0]
    }
    assert states == {
        ("Ana Müller", "completed"),
        ("Liam Ó Súilleabháin", "deleted"),
        ("Chen Wei", "inactive"),
    }
    # Priya is in two sections: two enrollments, one person.
    priya = _user(seeded, "Priya Raman")
    assert len(api.get(path, {"user_id": priya.id}).json()) == 2


def test_grades_follow_grading_and_override(api, seeded, teacher):
    course = seeded.course
    jose = _user(seeded, "José Núñez-García")
    grade_override_set(course=course, user=jose, score=Decimal("91.5"))
    grades = api.get(f"/courses/{course.id}/enrollments", {"user_id": jose.id}).json()[0]["grades"]
    assert grades["override_score"] == 91.5 and grades["override_grade"] == "A-"
    grade_override_set(course=course, user=jose, score=None)
    grades = api.get(f"/courses/{course.id}/enrollments", {"user_id": jose.id}).json()[0]["grades"]
    assert "override_score" not in grades


def test_students_see_effective_grades_only(student_api, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    grades = student_api.get(f"/courses/{seeded.course.id}/enrollments", {"user_id": zoe.id}).json()[0]["grades"]
    override = float(SandboxEnrollment.objects.get(course=seeded.course, user=zoe).override_score)
    assert grades["current_score"] == override and grades["final_score"] == override
    assert "override_score" not in grades and "unposted_current_score" not in grades


def test_course_users_with_primary_email_hide_the_test_student(api, seeded):
    users, _ = api.walk(
        f"/courses/{seeded.course.id}/users",
        {"enrollment_type[]": "student", "include[]": "email", "per_page": 100},
    )
    names = [u["name"] for u in users]
    assert "Test Student" not in names
    assert len(names) == len(set(names)), "a learner in two sections is listed once"
    assert "Liam Ó Súilleabháin" not in names  # dropped (deleted) learners are not listed by default
    zoe = next(u for u in users if u["name"] == "Zoë O'Brien <b>")
    assert USER_KEYS | {"email"} <= set(zoe)
    primary_email_set(user=_user(seeded, "Zoë O'Brien <b>"), address="zoe.personal@example.com")
    users = api.get(f"/courses/{seeded.course.id}/users", {"include[]": "email", "user_ids[]": zoe["id"]}).json()
    assert users[0]["email"] == "zoe.personal@example.com"


def test_communication_channels_by_position_and_profile(api, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    channels = api.get(f"/users/{zoe.id}/communication_channels").json()
    assert [(c["address"], c["position"]) for c in channels] == [
        ("learner1@students.example.edu", 1),
        ("zoe.personal@example.com", 2),
    ]
    assert {"id", "address", "type", "position", "user_id", "workflow_state"} <= set(channels[0])
    profile = api.get(f"/users/{zoe.id}/profile").json()
    assert {"id", "name", "short_name", "sortable_name", "primary_email", "login_id", "avatar_url"} <= set(profile)
    assert profile["primary_email"] == "learner1@students.example.edu"
    primary_email_set(user=zoe, address="zoe.personal@example.com")
    assert api.get(f"/users/{zoe.id}/profile").json()["primary_email"] == "zoe.personal@example.com"


def test_students_cannot_read_other_peoples_channels(student_api, seeded):
    jose = _user(seeded, "José Núñez-García")
    response = student_api.get(f"/users/{jose.id}/communication_channels")
    assert response.status_code == 401
    assert response.json()["status"] == "unauthorized"


def test_missing_and_invalid_tokens_are_401_json_like_canvas(api, seeded):
    missing = api.get(f"/courses/{seeded.course.id}", token="")
    assert missing.status_code == 401
    assert missing.json() == {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}
    invalid = api.get(f"/courses/{seeded.course.id}", token="1~not-a-token")
    assert invalid.status_code == 401
    assert invalid.json() == {"errors": [{"message": "Invalid access token."}]}
    assert invalid["WWW-Authenticate"].startswith("Bearer")


def test_grouped_submissions_of_named_students_one_entry_per_student(api, seeded):
    """`GET /courses/:id/students/submissions?grouped=true&student_ids[]=…` as canvas-lms
    app/controllers/submissions_api_controller.rb#for_students answers it: with `grouped` the page
    is a page of *students* (User.where(id: student_ids).order(:id), Api.paginate), each
    `{"user_id", "section_id", "submissions": [...]}`; a grader naming a student the course does
    not list (here a deleted enrollment) gets render_unauthorized_action for the whole request;
    more than Api::MAX_PER_PAGE named students is 400 "too many students"."""
    credentialing = list(SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False))
    students = list(
        SandboxEnrollment.objects.filter(course=seeded.course, type="StudentEnrollment")
        .exclude(workflow_state="deleted")
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )
    path = f"/courses/{seeded.course.id}/students/submissions"
    params = {
        "grouped": "true",
        "student_ids[]": students,
        "assignment_ids[]": [a.id for a in credentialing],
        "include[]": "rubric_assessment",
        "per_page": 100,
    }
    groups, requests = api.walk(path, params)
    assert requests == 1, "one page holds 100 students whatever their submissions"
    assert [g["user_id"] for g in groups] == sorted(set(students))
    assert all(set(g) == {"user_id", "section_id", "submissions"} for g in groups)
    flat, _ = api.walk(
        path,
        {"student_ids[]": students, "assignment_ids[]": [a.id for a in credentialing], "per_page": 100},
    )
    assert sorted(s["id"] for g in groups for s in g["submissions"]) == sorted(s["id"] for s in flat)
    graded = next(s for g in groups for s in g["submissions"] if s["workflow_state"] == "graded")
    assert set(graded) >= SUBMISSION_KEYS and graded["rubric_assessment"]
    # Paginated by student: 3 per page over the same students.
    paged, requests = api.walk(path, {**params, "per_page": 3})
    assert [g["user_id"] for g in paged] == [g["user_id"] for g in groups] and requests == -(-len(groups) // 3)

    liam = _user(seeded, "Liam Ó Súilleabháin")  # dropped: his enrollment is deleted
    refused = api.get(path, {**params, "student_ids[]": [students[0], liam.id]})
    assert refused.status_code == 401
    too_many = api.get(path, {**params, "student_ids[]": students * 10})
    assert len(students) * 10 > 100 and too_many.status_code == 400
    assert too_many.json() == {"error": "too many students"}


def test_course_users_named_by_id_in_any_enrollment_state(api, seeded):
    """`GET /courses/:id/users?user_ids[]=…&enrollment_state[]=…&include[]=email`: canvas-lms
    app/controllers/courses_controller.rb#users documents `user_ids[]` ("the course users set will
    only include users with IDs specified"), `enrollment_state[]` (active, invited, rejected,
    completed, inactive; active and invited by default) and `include[]=email` (the primary email).
    Issuance re-reads stale emails this way, 100 learners per request."""
    ana = _user(seeded, "Ana Müller")  # concluded at term end: enrollment completed
    zoe = _user(seeded, "Zoë O'Brien <b>")
    path = f"/courses/{seeded.course.id}/users"
    default = api.get(path, {"include[]": "email", "user_ids[]": [ana.id, zoe.id]}).json()
    assert [u["id"] for u in default] == [zoe.id]
    every = api.get(
        path,
        {
            "enrollment_type[]": "student",
            "include[]": "email",
            "user_ids[]": [ana.id, zoe.id],
            "enrollment_state[]": ["active", "invited", "completed", "inactive"],
        },
    ).json()
    assert sorted(u["id"] for u in every) == sorted([ana.id, zoe.id])
    assert {u["id"]: u["email"] for u in every}[ana.id] == ana.primary_email


SUBMISSION_FIELD_ORDER = [
    "id", "assignment_id", "user_id", "body", "url", "submission_type", "workflow_state", "grade", "score",
    "entered_grade", "entered_score", "grade_matches_current_submission", "attempt", "submitted_at", "graded_at",
    "grader_id", "posted_at", "excused", "late", "missing", "late_policy_status", "points_deducted", "seconds_late",
    "extra_attempts", "grading_period_id", "redo_request", "custom_grade_status_id", "preview_url",
]  # fmt: skip


def test_grouped_submission_field_for_field_as_grader_and_as_its_learner(client, api, seeded, teacher):
    """lib/api/v1/submission.rb, every field in Canvas's order, of a rubric-graded, late, excused,
    unposted submission in a grouped list: a grader sees the grade (`score` after the deduction,
    `entered_*` before it) and the rubric assessment; its learner sees none of them until posted."""
    from sandbox.services.keys import api_token_create
    from tests.sandbox.conftest import Api

    course = seeded.course
    assessment = SandboxAssignment.objects.filter(course=course, rubric__isnull=False).first()
    sofia = _user(seeded, "Sofía Herrera")
    ratings = {c["id"]: c["ratings"][0]["id"] for c in assessment.rubric.data}
    graded = submission_grade(
        assignment=assessment,
        user=sofia,
        grader=teacher,
        grade=GradeInput(ratings=ratings, points_deducted=Decimal("1.5")),
        post=False,
    )
    Submission.objects.filter(pk=graded.pk).update(excused=True)
    s = Submission.objects.get(pk=graded.pk)
    section_id = SandboxEnrollment.objects.get(course=course, user=sofia, type="StudentEnrollment").section_id
    path = f"/courses/{course.id}/students/submissions"
    params = {"grouped": "true", "assignment_ids[]": assessment.id, "include[]": "rubric_assessment"}

    def iso(value):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None

    common = {
        "id": s.id, "assignment_id": assessment.id, "user_id": sofia.id, "body": None, "url": None,
        "submission_type": "online_upload" if s.submitted_at else None, "grade_matches_current_submission": True,
        "attempt": s.attempt, "submitted_at": iso(s.submitted_at), "posted_at": None, "excused": True, "late": True,
        "missing": False, "late_policy_status": "late", "seconds_late": 0, "extra_attempts": None,
        "grading_period_id": None, "redo_request": False, "custom_grade_status_id": None,
        "preview_url": f"http://testserver/sandbox/t/courses/{course.id}/assignments/{assessment.id}"
        f"/submissions/{sofia.id}?preview=1",
    }  # fmt: skip
    [group] = api.get(path, {**params, "student_ids[]": sofia.id}).json()
    assert list(group) == ["user_id", "section_id", "submissions"]
    assert (group["user_id"], group["section_id"]) == (sofia.id, section_id)
    [as_grader] = group["submissions"]
    assert list(as_grader) == [*SUBMISSION_FIELD_ORDER, "rubric_assessment"]
    assert as_grader == {
        **common,
        "workflow_state": "graded",
        "grade": s.grade or None,
        "score": 10.5,
        "entered_grade": "12",
        "entered_score": 12.0,
        "graded_at": iso(s.graded_at),
        "grader_id": teacher.id,
        "points_deducted": 1.5,
        "rubric_assessment": {
            criterion: {
                "rating_id": item.get("rating_id"),
                "comments": item.get("comments", ""),
                "points": item["points"],
            }
            for criterion, item in s.rubric_assessment.items()
        },
    }
    assert list(as_grader["rubric_assessment"]) == list(s.rubric_assessment)

    sofia_api = Api(client, seeded, api_token_create(user=sofia))
    [own] = sofia_api.get(path, params).json()
    [as_learner] = own["submissions"]
    assert list(as_learner) == SUBMISSION_FIELD_ORDER
    hidden = {"grade", "score", "entered_grade", "entered_score", "graded_at", "grader_id", "points_deducted"}
    assert as_learner == {**common, "workflow_state": "submitted", **dict.fromkeys(hidden)}
