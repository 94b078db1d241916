"""Typed records of what Canvas returns (only the fields the product reads).

Parsing lives here so that callers never handle Canvas JSON: ids become strings (Canvas ids
can exceed 2**53 in JavaScript terms and our columns are strings), scores become Decimals,
timestamps become aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime


def _str_id(value: Any) -> str:
    return "" if value is None else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _float(value: Decimal | None) -> float | None:
    # The stored rubric JSON keeps Canvas's own shape: numbers, not decimal strings.
    return float(value) if value is not None else None


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RubricRating:
    id: str
    description: str
    points: Decimal | None


@dataclass(frozen=True, slots=True)
class RubricCriterion:
    id: str
    description: str
    long_description: str
    points: Decimal | None
    ratings: tuple[RubricRating, ...] = ()
    # Canvas lets a criterion (typically an outcome-aligned one) be assessed but left out of the score.
    ignore_for_scoring: bool = False

    def to_json(self) -> dict:
        """The shape stored in Assignment.rubric (Canvas's own, numbers as floats)."""
        return {
            "id": self.id,
            "description": self.description,
            "long_description": self.long_description,
            "points": _float(self.points),
            "ignore_for_scoring": self.ignore_for_scoring,
            "ratings": [{"id": r.id, "description": r.description, "points": _float(r.points)} for r in self.ratings],
        }


@dataclass(frozen=True, slots=True)
class CanvasAssignmentGroup:
    id: str
    name: str
    position: int

    @classmethod
    def from_api(cls, data: dict) -> CanvasAssignmentGroup:
        return cls(id=_str_id(data.get("id")), name=data.get("name") or "", position=int(data.get("position") or 0))


@dataclass(frozen=True, slots=True)
class CanvasAssignment:
    id: str
    course_id: str
    name: str
    points_possible: Decimal | None
    grading_type: str
    assignment_group_id: str
    published: bool
    position: int
    html_url: str
    rubric: tuple[RubricCriterion, ...] = ()
    rubric_title: str = ""
    assignment_group_name: str = ""

    @classmethod
    def from_api(cls, data: dict, *, group_names: dict[str, str] | None = None) -> CanvasAssignment:
        criteria = tuple(
            RubricCriterion(
                id=_str_id(c.get("id")),
                description=c.get("description") or "",
                long_description=c.get("long_description") or "",
                points=_decimal(c.get("points")),
                ratings=tuple(
                    RubricRating(
                        id=_str_id(r.get("id")),
                        description=r.get("description") or "",
                        points=_decimal(r.get("points")),
                    )
                    for r in c.get("ratings") or []
                ),
                ignore_for_scoring=bool(c.get("ignore_for_scoring")),
            )
            for c in data.get("rubric") or []
        )
        group_id = _str_id(data.get("assignment_group_id"))
        return cls(
            id=_str_id(data.get("id")),
            course_id=_str_id(data.get("course_id")),
            name=data.get("name") or "",
            points_possible=_decimal(data.get("points_possible")),
            grading_type=data.get("grading_type") or "",
            assignment_group_id=group_id,
            published=bool(data.get("published", True)),
            position=int(data.get("position") or 0),
            html_url=data.get("html_url") or "",
            rubric=criteria,
            rubric_title=(data.get("rubric_settings") or {}).get("title") or "",
            assignment_group_name=(group_names or {}).get(group_id, ""),
        )

    def rubric_json(self) -> list[dict]:
        return [c.to_json() for c in self.rubric]


@dataclass(frozen=True, slots=True)
class CriterionAssessment:
    points: Decimal | None
    rating_id: str
    comments: str


@dataclass(frozen=True, slots=True)
class CanvasSubmission:
    id: str
    assignment_id: str
    user_id: str
    workflow_state: str
    score: Decimal | None  # after late/missing-policy deductions
    grade: str
    excused: bool
    submitted_at: datetime | None
    graded_at: datetime | None
    posted_at: datetime | None
    rubric_assessment: dict[str, CriterionAssessment] = field(default_factory=dict)
    # What the grader entered, before late/missing-policy deductions; points_deducted is the difference.
    entered_score: Decimal | None = None
    points_deducted: Decimal | None = None
    late: bool = False

    @classmethod
    def from_api(cls, data: dict) -> CanvasSubmission:
        rubric = {}
        for criterion_id, entry in (data.get("rubric_assessment") or {}).items():
            entry = entry or {}
            rubric[str(criterion_id)] = CriterionAssessment(
                points=_decimal(entry.get("points")),
                rating_id=_str_id(entry.get("rating_id")),
                comments=entry.get("comments") or "",
            )
        return cls(
            id=_str_id(data.get("id")),
            assignment_id=_str_id(data.get("assignment_id")),
            user_id=_str_id(data.get("user_id")),
            workflow_state=data.get("workflow_state") or "",
            score=_decimal(data.get("score")),
            grade=_str_id(data.get("grade")),
            excused=bool(data.get("excused")),
            submitted_at=_datetime(data.get("submitted_at")),
            graded_at=_datetime(data.get("graded_at")),
            posted_at=_datetime(data.get("posted_at")),
            rubric_assessment=rubric,
            # Older Canvas (and callers that cannot see the grade) omit entered_score: then nothing was
            # deducted that we can know of, and the entered score is the score.
            entered_score=_decimal(data["entered_score"]) if "entered_score" in data else _decimal(data.get("score")),
            points_deducted=_decimal(data.get("points_deducted")),
            late=bool(data.get("late")),
        )

    def rubric_assessment_json(self) -> dict:
        return {
            key: {
                "points": _float(value.points),
                "rating_id": value.rating_id,
                "comments": value.comments,
            }
            for key, value in self.rubric_assessment.items()
        }

    @property
    def is_posted(self) -> bool:
        return self.posted_at is not None


@dataclass(frozen=True, slots=True)
class CanvasUser:
    id: str
    name: str
    sortable_name: str
    short_name: str = ""
    login_id: str = ""
    email: str = ""

    @classmethod
    def from_api(cls, data: dict) -> CanvasUser:
        return cls(
            id=_str_id(data.get("id")),
            name=data.get("name") or "",
            sortable_name=data.get("sortable_name") or "",
            short_name=data.get("short_name") or "",
            login_id=_str_id(data.get("login_id")),
            email=(data.get("email") or data.get("primary_email") or "").strip(),
        )


@dataclass(frozen=True, slots=True)
class CanvasGrades:
    current_score: Decimal | None = None
    final_score: Decimal | None = None
    current_grade: str = ""
    final_grade: str = ""
    override_score: Decimal | None = None
    override_grade: str = ""

    @classmethod
    def from_api(cls, data: dict | None) -> CanvasGrades:
        data = data or {}
        return cls(
            current_score=_decimal(data.get("current_score")),
            final_score=_decimal(data.get("final_score")),
            current_grade=data.get("current_grade") or "",
            final_grade=data.get("final_grade") or "",
            override_score=_decimal(data.get("override_score")),
            override_grade=data.get("override_grade") or "",
        )

    @classmethod
    def from_enrollment(cls, enrollment: dict) -> CanvasGrades:
        """The grades of an enrollment. Canvas puts the course's Final Grade Override under `grades`
        and, for some callers and versions, also at the top level of the enrollment
        (`override_score`/`override_grade`): either place counts. `current_period_override_*` (a
        grading period's override) is deliberately not read: it is not the course's final grade."""
        grades = cls.from_api(enrollment.get("grades"))
        if grades.override_score is None and not grades.override_grade:
            top_score = _decimal(enrollment.get("override_score"))
            top_grade = enrollment.get("override_grade") or ""
            if top_score is not None or top_grade:
                return cls(
                    current_score=grades.current_score,
                    final_score=grades.final_score,
                    current_grade=grades.current_grade,
                    final_grade=grades.final_grade,
                    override_score=top_score,
                    override_grade=str(top_grade),
                )
        return grades

    @property
    def has_override(self) -> bool:
        return self.override_score is not None or bool(self.override_grade)


@dataclass(frozen=True, slots=True)
class CanvasEnrollment:
    id: str
    course_id: str
    user_id: str
    course_section_id: str
    type: str
    enrollment_state: str
    grades: CanvasGrades
    user: CanvasUser

    @classmethod
    def from_api(cls, data: dict) -> CanvasEnrollment:
        user = CanvasUser.from_api(data.get("user") or {"id": data.get("user_id")})
        return cls(
            id=_str_id(data.get("id")),
            course_id=_str_id(data.get("course_id")),
            user_id=_str_id(data.get("user_id")) or user.id,
            course_section_id=_str_id(data.get("course_section_id")),
            type=data.get("type") or data.get("role") or "",
            enrollment_state=data.get("enrollment_state") or "",
            grades=CanvasGrades.from_enrollment(data),
            user=user,
        )

    @property
    def is_test_user(self) -> bool:
        return self.type == "StudentViewEnrollment"


@dataclass(frozen=True, slots=True)
class CanvasCourse:
    id: str
    name: str
    course_code: str
    workflow_state: str
    locale: str = ""  # the course's own language; null when the account's applies

    @classmethod
    def from_api(cls, data: dict) -> CanvasCourse:
        return cls(
            id=_str_id(data.get("id")),
            name=data.get("name") or "",
            course_code=data.get("course_code") or "",
            workflow_state=data.get("workflow_state") or "",
            locale=str(data.get("locale") or "")[:35],
        )


@dataclass(frozen=True, slots=True)
class CanvasCourseSettings:
    """`GET /courses/:id/settings`: only the settings the badge rule depends on."""

    allow_final_grade_override: bool

    @classmethod
    def from_api(cls, data: dict) -> CanvasCourseSettings:
        return cls(allow_final_grade_override=bool(data.get("allow_final_grade_override")))
