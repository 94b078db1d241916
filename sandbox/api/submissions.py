"""Canvas REST submissions: `GET /courses/:id/students/submissions` (submissions_api_controller.rb
#for_students) in the shape of lib/api/v1/submission.rb, grades hidden from students until posted."""

import json
from operator import itemgetter
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from sandbox.api.pipeline import (
    MAX_PER_PAGE,
    ApiError,
    Caller,
    CanvasTime,
    _ids,
    canvas_api,
    num,
    paginate,
    unauthorized,
)
from sandbox.models import STUDENT_TYPES, SandboxAssignment, SandboxEnrollment, SandboxUser, Submission


def rubric_assessment_json(rubric_assessment: dict) -> dict:
    return {
        criterion_id: {
            "rating_id": item.get("rating_id"),
            "comments": item.get("comments", ""),
            "points": item.get("points"),
        }
        for criterion_id, item in rubric_assessment.items()
    }


# What submission_json reads: rows are values() dicts, not model instances (a page is up to 100
# students' submissions on every assignment asked for: hundreds of rows), with the timestamps as
# Canvas writes them and the rubric assessment as JSON text, decoded only when it is shown.
SUBMISSION_FIELDS = (
    "id",
    "assignment_id",
    "user_id",
    "workflow_state",
    "score",
    "points_deducted",
    "grade",
    "grader_id",
    "attempt",
    "excused",
)
SUBMISSION_EXPRESSIONS = {
    "submitted": CanvasTime("submitted_at"),
    "graded": CanvasTime("graded_at"),
    "posted": CanvasTime("posted_at"),
}
RUBRIC_ASSESSMENT_TEXT = {"rubric_assessment_text": Cast("rubric_assessment", TextField())}


def submission_json(s: dict, *, assignments_url: str, show_grade: bool, rubric: bool) -> dict:
    """lib/api/v1/submission.rb: `score`/`grade` are after the late/missing policy's deduction,
    `entered_score`/`entered_grade` what the grader entered, `points_deducted` the difference.

    `s` is a row of SUBMISSION_FIELDS and SUBMISSION_EXPRESSIONS (and RUBRIC_ASSESSMENT_TEXT when
    `rubric`: it was asked for); `assignments_url` is `<root_url>/courses/<course id>/assignments`."""
    graded = s["workflow_state"] == "graded"
    score = s["score"]
    deducted = s["points_deducted"] if s["points_deducted"] else None
    final_score = score - deducted if score is not None and deducted is not None else score
    data: dict[str, Any] = {
        "id": s["id"],
        "assignment_id": s["assignment_id"],
        "user_id": s["user_id"],
        "body": None,
        "url": None,
        "submission_type": "online_upload" if s["submitted"] else None,
        "workflow_state": s["workflow_state"] if (show_grade or not graded) else "submitted",
        "grade": s["grade"] or None if show_grade else None,
        "score": num(final_score) if show_grade else None,
        "entered_grade": (_points(score) if score is not None else None) if show_grade else None,
        "entered_score": num(score) if show_grade else None,
        "grade_matches_current_submission": True,
        "attempt": s["attempt"],
        "submitted_at": s["submitted"],
        "graded_at": s["graded"] if show_grade else None,
        "grader_id": s["grader_id"] if show_grade else None,
        "posted_at": s["posted"],
        "excused": s["excused"],
        "late": deducted is not None,
        "missing": False,
        "late_policy_status": "late" if deducted is not None else None,
        "points_deducted": num(deducted) if show_grade else None,
        "seconds_late": 0,
        "extra_attempts": None,
        "grading_period_id": None,
        "redo_request": False,
        "custom_grade_status_id": None,
        "preview_url": f"{assignments_url}/{s['assignment_id']}/submissions/{s['user_id']}?preview=1",
    }
    if rubric and show_grade and s["rubric_assessment_text"] is not None:
        assessment = json.loads(s["rubric_assessment_text"])
        if assessment:
            data["rubric_assessment"] = rubric_assessment_json(assessment)
    return data


def _points(value) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


@canvas_api
def submission_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    include = set(request.GET.getlist("include[]"))
    student_ids = request.GET.getlist("student_ids[]")
    enrollments = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES).exclude(
        workflow_state="deleted"
    )
    if "all" in student_ids:
        if not grader:
            raise unauthorized()
    else:
        wanted = _ids(request, "student_ids[]") or [caller.user.id]
        if not grader and set(wanted) != {caller.user.id}:
            raise unauthorized()
        # submissions_api_controller.rb#for_students: a grader naming a student the course does not
        # list (no enrollment, or only a deleted one) is refused as a whole (render_unauthorized_action);
        # more than Api::MAX_PER_PAGE named students is a 400.
        if grader and set(wanted) - set(enrollments.filter(user_id__in=wanted).values_list("user_id", flat=True)):
            raise unauthorized()
        if len(wanted) > MAX_PER_PAGE:
            raise ApiError(400, {"error": "too many students"})
        enrollments = enrollments.filter(user_id__in=wanted)
    enrollment_state = request.GET.get("enrollment_state")
    if enrollment_state == "active":
        enrollments = enrollments.filter(workflow_state__in=["active", "invited"])
    elif enrollment_state == "concluded":
        enrollments = enrollments.filter(workflow_state="completed")
    rubric = "rubric_assessment" in include
    qs = Submission.objects.filter(
        assignment__course=course,
        assignment__published=True,
        user_id__in=enrollments.values("user_id"),
    ).values(*SUBMISSION_FIELDS, **SUBMISSION_EXPRESSIONS, **(RUBRIC_ASSESSMENT_TEXT if rubric else {}))
    assignment_ids = _ids(request, "assignment_ids[]")
    if assignment_ids:
        # submissions_api_controller.rb#for_students looks the ids up among the course's *published*
        # assignments and refuses the whole request when any is missing (unpublished or deleted).
        published = set(
            SandboxAssignment.objects.filter(course=course, published=True, id__in=assignment_ids).values_list(
                "id", flat=True
            )
        )
        if set(assignment_ids) - published:
            raise ApiError(403, {"error": "invalid assignment ids requested"})
        qs = qs.filter(assignment_id__in=assignment_ids)
    workflow_state = request.GET.get("workflow_state")
    if workflow_state:
        qs = qs.filter(workflow_state=workflow_state)
    for param, column in (("graded_since", "graded_at"), ("submitted_since", "submitted_at")):
        if request.GET.get(param):
            since = parse_datetime(request.GET[param])
            if since is None:
                raise ApiError(400, {"errors": [{"message": f"{param} must be an ISO 8601 timestamp"}]})
            qs = qs.filter(**{f"{column}__gte": since})
    # Every row's assignment is one of the course's (the query joins on it).
    assignments_url = f"{caller.instance.root_url}/courses/{course.id}/assignments"

    def serialize(rows):
        return [
            submission_json(
                s, assignments_url=assignments_url, show_grade=grader or s["posted"] is not None, rubric=rubric
            )
            for s in rows
        ]

    if request.GET.get("grouped") not in (None, "", "false", "0"):
        # `grouped`: one entry per student, the page is 100 students (ordered by id) with every
        # submission of theirs the filters keep (submissions_api_controller.rb#for_students).
        students = SandboxUser.objects.filter(id__in=enrollments.values("user_id")).values_list("id", flat=True)

        def serialize_grouped(ids):
            sections = dict(enrollments.filter(user_id__in=ids).order_by("-id").values_list("user_id", "section_id"))
            by_user: dict[int, list] = {i: [] for i in ids}
            for submission in qs.filter(user_id__in=ids).order_by("id"):
                by_user[submission["user_id"]].append(submission)
            return [{"user_id": i, "section_id": sections.get(i), "submissions": serialize(by_user[i])} for i in ids]

        return paginate(request, students, serialize_grouped, row_id=int)
    return paginate(request, qs, serialize, row_id=itemgetter("id"))
