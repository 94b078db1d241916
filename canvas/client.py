"""The Canvas REST client: the only code in the product that calls Canvas's /api/v1, one method
per Canvas call, typed records out. How it talks HTTP (the token's cap, throttling, retries,
pagination) is in transport.py; what Canvas's failures mean, in errors.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from canvas.errors import (
    CanvasPermissionError,
)
from canvas.records import (
    CanvasAssignment,
    CanvasAssignmentGroup,
    CanvasCourse,
    CanvasCourseSettings,
    CanvasEnrollment,
    CanvasSubmission,
    CanvasUser,
)
from canvas.transport import CanvasTransport

IDS_PER_REQUEST = 100
COURSE_USER_STATES = ("active", "invited", "completed", "inactive")

STUDENT_ENROLLMENT_STATES = ("active", "completed", "inactive", "invited", "deleted", "rejected")


class CanvasClient(CanvasTransport):
    """Calls Canvas REST as the platform's API user. Its methods may be called from several threads
    at once (`parallel` of them are worth it: the token's in-flight cap); one client per sync."""

    # --- Public API: typed records out ----------------------------------------------------------

    def get_self(self) -> CanvasUser:
        """The token's own user (`/users/self/profile`): proves the address and the token work."""
        return CanvasUser.from_api(self._get_json("/users/self/profile"))

    def get_course(self, course_id: str) -> CanvasCourse:
        return CanvasCourse.from_api(self._get_json(f"/courses/{course_id}"))

    def get_course_settings(self, course_id: str) -> CanvasCourseSettings:
        """The course settings the badge rule depends on (`/courses/:id/settings`)."""
        return CanvasCourseSettings.from_api(self._get_json(f"/courses/{course_id}/settings"))

    def list_assignment_groups(self, course_id: str) -> list[CanvasAssignmentGroup]:
        return [CanvasAssignmentGroup.from_api(g) for g in self._paginate(f"/courses/{course_id}/assignment_groups")]

    def list_assignments(self, course_id: str) -> list[CanvasAssignment]:
        """Every assignment of the course with its rubric and its group's name (published or not)."""
        groups = {g.id: g.name for g in self.list_assignment_groups(course_id)}
        return [
            CanvasAssignment.from_api(a, group_names=groups)
            for a in self._paginate(f"/courses/{course_id}/assignments")
        ]

    def list_submissions(
        self,
        course_id: str,
        *,
        assignment_ids: Iterable[str],
        graded_since: datetime | None = None,
        student_ids: Iterable[str] | None = None,
        workflow_state: str | None = None,
    ) -> Iterator[CanvasSubmission]:
        """Submissions (with rubric assessments) of all students, or of `student_ids`, on these assignments.

        Every id must be a published assignment: Canvas refuses the whole request otherwise
        (CanvasInvalidAssignmentsError)."""
        assignment_ids = list(assignment_ids)
        if not assignment_ids:
            return
        params: list[tuple[str, str]] = [("include[]", "rubric_assessment")]
        students = list(student_ids) if student_ids is not None else None
        if students is None:
            params.append(("student_ids[]", "all"))
        else:
            if not students:
                return
            params.extend(("student_ids[]", s) for s in students)
        params.extend(("assignment_ids[]", a) for a in assignment_ids)
        if graded_since is not None:
            params.append(("graded_since", _iso(graded_since)))
        if workflow_state:
            params.append(("workflow_state", workflow_state))
        for item in self._paginate(f"/courses/{course_id}/students/submissions", params):
            yield CanvasSubmission.from_api(item)

    def list_submissions_of_students(
        self, course_id: str, *, assignment_ids: Iterable[str], student_ids: Iterable[str]
    ) -> list[CanvasSubmission]:
        """Every submission of up to 100 students on these assignments, in one request: `grouped`
        answers one entry per student (its page holds 100 students, whatever their submissions).
        Unsubmitted placeholders are left out. Every student must be enrolled (not deleted): Canvas
        refuses the whole request otherwise (a permission error)."""
        students = [str(s) for s in student_ids]
        assignment_ids = list(assignment_ids)
        if len(students) > IDS_PER_REQUEST:
            raise ValueError(f"at most {IDS_PER_REQUEST} students per request (Canvas answers 400 'too many students')")
        if not students or not assignment_ids:
            return []
        params: list[tuple[str, str]] = [("include[]", "rubric_assessment"), ("grouped", "true")]
        params.extend(("student_ids[]", s) for s in students)
        params.extend(("assignment_ids[]", a) for a in assignment_ids)
        out: list[CanvasSubmission] = []
        for group in self._paginate(f"/courses/{course_id}/students/submissions", params):
            for item in group.get("submissions") or []:
                if item.get("workflow_state") != "unsubmitted":
                    out.append(CanvasSubmission.from_api({"user_id": group.get("user_id"), **item}))
        return out

    def list_enrollments(
        self,
        course_id: str,
        *,
        types: Iterable[str] = ("StudentEnrollment",),
        states: Iterable[str] = STUDENT_ENROLLMENT_STATES,
        user_id: str | None = None,
        include_email: bool = True,
    ) -> Iterator[CanvasEnrollment]:
        """Enrollments with grades (as a grader sees them, incl. the final grade override) and the user."""
        params: list[tuple[str, str]] = [("type[]", t) for t in types]
        params.extend(("state[]", s) for s in states)
        if include_email:
            params.append(("include[]", "email"))
        if user_id:
            params.append(("user_id", str(user_id)))
        for item in self._paginate(f"/courses/{course_id}/enrollments", params):
            yield CanvasEnrollment.from_api(item)

    def list_users_with_email(
        self, course_id: str, *, user_ids: Iterable[str] | None = None, states: Iterable[str] = COURSE_USER_STATES
    ) -> Iterator[CanvasUser]:
        """The course's students (or these of them, at most 100: one request) with their primary
        email, whatever their enrollment's state (Canvas hides the Student View user here)."""
        params = [("enrollment_type[]", "student"), ("include[]", "email")]
        params.extend(("enrollment_state[]", s) for s in states)
        if user_ids is not None:
            ids = [str(u) for u in user_ids]
            if len(ids) > IDS_PER_REQUEST:
                raise ValueError(f"at most {IDS_PER_REQUEST} users per request")
            if not ids:
                return
            params.extend(("user_ids[]", u) for u in ids)
        for item in self._paginate(f"/courses/{course_id}/users", params):
            yield CanvasUser.from_api(item)

    def get_user_primary_email(self, user_id: str) -> str:
        """The user's primary email now (profile, else their first *active* email channel); "" if none.

        An unconfirmed channel is never used: nobody proved they own that address."""
        try:
            profile = self._get_json(f"/users/{user_id}/profile")
            email = (profile.get("primary_email") or "").strip()
            if email:
                return email
        except CanvasPermissionError:
            pass  # the channels endpoint may still be readable with :read on the user
        channels = [
            c
            for c in self._paginate(f"/users/{user_id}/communication_channels")
            if c.get("type") == "email" and c.get("workflow_state") == "active"
        ]
        channels.sort(key=lambda c: c.get("position") or 0)
        return (channels[0].get("address") or "").strip() if channels else ""


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
