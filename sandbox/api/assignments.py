"""Canvas REST assignments, assignment groups and rubrics, in the shapes of lib/api/v1/assignment.rb
(students see published assignments only; rubrics are for graders)."""

from django.db.models import QuerySet

from sandbox.api.pipeline import ApiError, Caller, canvas_api, iso, not_found, num, paginate
from sandbox.models import AssignmentGroup, SandboxAssignment, SandboxCourse, Submission


def rubric_settings_json(rubric) -> dict:
    return {
        "id": rubric.id,
        "title": rubric.title,
        "points_possible": rubric.points_possible,
        "free_form_criterion_comments": rubric.free_form_criterion_comments,
        "hide_score_total": rubric.hide_score_total,
        "hide_points": False,
    }


def rubric_criteria_json(rubric) -> list[dict]:
    return [
        {
            "id": c["id"],
            "points": float(c["points"]),
            "description": c["description"],
            "long_description": c.get("long_description", ""),
            "criterion_use_range": c.get("criterion_use_range", False),
            # Canvas sends it only on criteria that have it (lib/api/v1/assignment.rb slices the keys).
            **({"ignore_for_scoring": True} if c.get("ignore_for_scoring") else {}),
            "ratings": [
                {
                    "id": r["id"],
                    "points": float(r["points"]),
                    "description": r["description"],
                    "long_description": r.get("long_description", ""),
                }
                for r in c["ratings"]
            ],
        }
        for c in rubric.data
    ]


def assignment_json(a: SandboxAssignment, root_url: str) -> dict:
    data = {
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "due_at": iso(a.due_at),
        "lock_at": None,
        "unlock_at": None,
        "has_overrides": False,
        "course_id": a.course_id,
        "html_url": f"{root_url}/courses/{a.course_id}/assignments/{a.id}",
        "assignment_group_id": a.group_id,
        "points_possible": float(a.points_possible),
        "grading_type": a.grading_type,
        "grading_standard_id": None,
        "submission_types": ["online_upload"],
        "position": a.position,
        "published": a.published,
        "unpublishable": True,
        "workflow_state": "published" if a.published else "unpublished",
        "only_visible_to_overrides": False,
        "omit_from_final_grade": False,
        "moderated_grading": False,
        "anonymous_grading": False,
        "post_manually": False,
        "muted": False,
        "locked_for_user": False,
    }
    if a.rubric_id and a.rubric is not None:
        data["use_rubric_for_grading"] = a.use_rubric_for_grading
        data["free_form_criterion_comments"] = a.rubric.free_form_criterion_comments
        data["rubric_settings"] = rubric_settings_json(a.rubric)
        data["rubric"] = rubric_criteria_json(a.rubric)
    return data


def _assignments(caller: Caller, course: SandboxCourse) -> QuerySet:
    qs = SandboxAssignment.objects.filter(course=course).select_related("rubric")
    return qs if caller.is_grader(course) else qs.filter(published=True)


@canvas_api
def assignment_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    root = caller.instance.root_url
    return paginate(request, _assignments(caller, course), lambda rows: [assignment_json(a, root) for a in rows])


@canvas_api
def assignment_detail(request, caller: Caller, course_id: int, assignment_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    assignment = _assignments(caller, course).filter(id=assignment_id).first()
    if assignment is None:
        raise not_found()
    return assignment_json(assignment, caller.instance.root_url)


@canvas_api
def assignment_group_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    include = set(request.GET.getlist("include[]"))
    root = caller.instance.root_url
    assignments: dict[int, list] = {}
    if "assignments" in include:
        for a in _assignments(caller, course).order_by("position", "id"):
            assignments.setdefault(a.group_id, []).append(assignment_json(a, root))

    def serialize(groups):
        out = []
        for g in groups:
            item = {
                "id": g.id,
                "name": g.name,
                "position": g.position,
                "group_weight": g.group_weight,
                "sis_source_id": None,
                "integration_data": {},
                "rules": {},
            }
            if "assignments" in include:
                item["assignments"] = assignments.get(g.id, [])
            out.append(item)
        return out

    return paginate(request, AssignmentGroup.objects.filter(course=course), serialize)


@canvas_api
def rubric_detail(request, caller: Caller, course_id: int, rubric_id: int):
    course = caller.course(course_id)
    caller.require_grader(course)
    rubric = course.rubrics.filter(id=rubric_id).first()
    if rubric is None:
        raise ApiError(404, {"message": "Rubric not found"})
    include = set(request.GET.getlist("include[]"))
    data = {
        "id": rubric.id,
        "title": rubric.title,
        "context_id": course.id,
        "context_type": "Course",
        "points_possible": rubric.points_possible,
        "reusable": False,
        "read_only": False,
        "free_form_criterion_comments": rubric.free_form_criterion_comments,
        "hide_score_total": rubric.hide_score_total,
        "data": [
            {**c, "ratings": [{**r, "criterion_id": c["id"]} for r in c["ratings"]]}
            for c in rubric_criteria_json(rubric)
        ],
    }
    assignments = list(rubric.assignments.all())
    if include & {"assessments", "graded_assessments"}:
        subs = (
            Submission.objects.filter(assignment__in=assignments, workflow_state="graded")
            .exclude(rubric_assessment={})
            .order_by("id")
        )
        data["assessments"] = [
            {
                "id": s.rubric_assessment_id or s.id,
                "rubric_id": rubric.id,
                "rubric_association_id": s.assignment_id,
                "score": num(s.score),
                "artifact_type": "Submission",
                "artifact_id": s.id,
                "artifact_attempt": s.attempt or 1,
                "assessment_type": "grading",
                "assessor_id": s.grader_id,
                "data": [
                    {
                        "criterion_id": criterion_id,
                        "points": item.get("points"),
                        "id": item.get("rating_id"),
                        "comments": item.get("comments", ""),
                    }
                    for criterion_id, item in s.rubric_assessment.items()
                ],
            }
            for s in subs
        ]
    if "associations" in include:
        data["associations"] = [
            {
                "id": a.id,
                "rubric_id": rubric.id,
                "association_id": a.id,
                "association_type": "Assignment",
                "use_for_grading": a.use_rubric_for_grading,
                "purpose": "grading",
                "hide_score_total": rubric.hide_score_total,
                "hide_points": False,
                "hide_outcome_results": False,
            }
            for a in assignments
        ]
    return data
