"""A small in-memory Canvas for service tests, served through `responses` (the shapes of §B2).

It paginates with opaque Link URLs, filters submissions by student, assignment, graded_since and
workflow_state like Canvas, and counts the requests it answers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import responses


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


@dataclass
class FakeCanvas:
    base: str = "https://fake.instructure.com"
    course_id: str = "7"
    groups: list[dict] = field(default_factory=lambda: [{"id": 3, "name": "Credentialing Assessments", "position": 1}])
    assignments: list[dict] = field(default_factory=list)
    enrollments: list[dict] = field(default_factory=list)
    submissions: dict[tuple[str, str], dict] = field(default_factory=dict)  # (assignment id, user id)
    emails: dict[str, str] = field(default_factory=dict)
    enrollment_emails: bool = True
    requests: list[str] = field(default_factory=list)
    fail_with: int | None = None
    allow_final_grade_override: bool = True
    # Called with each request's path before it is answered (a change in Canvas between two requests).
    before: Callable[[str], None] | None = None
    # X-Rate-Limit-Remaining on every answer; seconds each answer takes (so requests overlap).
    rate_limit_remaining: float = 600.0
    answer_seconds: float = 0.0
    in_flight: int = 0
    peak_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return self.base + "/api/v1"

    # --- building data ---------------------------------------------------------------------------

    def add_assignment(self, aid: int, name: str, points: float = 12.0, group: int = 3, published: bool = True):
        self.assignments.append(
            {
                "id": aid,
                "course_id": int(self.course_id),
                "name": name,
                "points_possible": points,
                "grading_type": "points",
                "assignment_group_id": group,
                "published": published,
                "position": len(self.assignments) + 1,
                "html_url": f"{self.base}/courses/{self.course_id}/assignments/{aid}",
                "rubric_settings": {"id": aid * 10, "title": f"{name} rubric"},
                "rubric": [
                    {
                        "id": f"_{aid}a",
                        "description": "Skill A",
                        "points": points / 2,
                        "ratings": [{"id": "r1", "description": "Meets", "points": points / 2}],
                    },
                    {
                        "id": f"_{aid}b",
                        "description": "Skill B",
                        "points": points / 2,
                        "ratings": [{"id": "r2", "description": "Meets", "points": points / 2}],
                    },
                ],
            }
        )

    def add_student(self, uid: int, name: str, *, state: str = "active", email: str | None = None, **grades):
        self.enrollments.append(
            {
                "id": 9000 + uid,
                "course_id": int(self.course_id),
                "course_section_id": 8,
                "user_id": uid,
                "type": grades.pop("type", "StudentEnrollment"),
                "role": "StudentEnrollment",
                "enrollment_state": state,
                "grades": {"current_score": None, "final_score": None, **grades},
                "user": {"id": uid, "name": name, "sortable_name": name, "short_name": name, "login_id": f"u{uid}"},
            }
        )
        self.emails[str(uid)] = email if email is not None else f"user{uid}@uni.edu"

    def set_override(self, uid: int, score: float | None, grade: str = ""):
        for e in self.enrollments:
            if e["user_id"] == uid:
                e["grades"]["override_score"] = score
                e["grades"]["override_grade"] = grade

    def grade(self, aid: int, uid: int, score: float, *, at: datetime, posted: bool = True, workflow="graded"):
        self.submissions[(str(aid), str(uid))] = {
            "id": aid * 100000 + uid,
            "assignment_id": aid,
            "user_id": uid,
            "score": score,
            "grade": str(score),
            "workflow_state": workflow,
            "excused": False,
            "submitted_at": iso(at),
            "graded_at": iso(at) if workflow == "graded" else None,
            "posted_at": iso(at) if posted and workflow == "graded" else None,
            "rubric_assessment": {
                f"_{aid}a": {"points": score / 2, "rating_id": "r1", "comments": ""},
                f"_{aid}b": {"points": score / 2, "rating_id": "r2", "comments": ""},
            },
        }

    def post(self, aid: int, uid: int, *, at: datetime):
        self.submissions[(str(aid), str(uid))]["posted_at"] = iso(at)

    # --- serving ---------------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> FakeCanvas:
        rsps.add_callback(responses.GET, re.compile(re.escape(self.api) + r"/.*"), callback=self._handle)
        return self

    def _handle(self, request):
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.answer_seconds:
                time.sleep(self.answer_seconds)
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request):
        self.requests.append(request.url)
        if request.headers.get("Authorization") != "Bearer canvas-api-token":
            return (
                401,
                {"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
                json.dumps({"errors": [{"message": "Invalid access token."}]}),
            )
        if self.fail_with:
            return self.fail_with, {}, json.dumps({"errors": [{"message": "boom"}]})
        parts = urlsplit(request.url)
        q = parse_qs(parts.query)
        path = parts.path[len(urlsplit(self.api).path) :]
        if self.before is not None:
            self.before(path)
        c = f"/courses/{self.course_id}"
        if path == c:
            return 200, {}, json.dumps({"id": int(self.course_id), "name": "Data Skills <101>", "course_code": "DS101"})
        if path == f"{c}/settings":
            return 200, {}, json.dumps({"allow_final_grade_override": self.allow_final_grade_override})
        if path == f"{c}/assignment_groups":
            items = self.groups
        elif path == f"{c}/assignments":
            items = self.assignments
        elif path == f"{c}/enrollments":
            states = set(q.get("state[]", ["active"]))
            types = set(q.get("type[]", []))
            user = q.get("user_id", [None])[0]
            items = []
            for e in self.enrollments:
                if user and str(e["user_id"]) != user:
                    continue
                if e["enrollment_state"] in states and (not types or e["type"] in types):
                    item = json.loads(json.dumps(e))
                    if self.enrollment_emails and "email" in q.get("include[]", []):
                        item["user"]["email"] = self.emails.get(str(e["user_id"]))
                    items.append(item)
        elif path == f"{c}/users":
            # courses_controller.rb#users: students (never the Student View user), active and invited
            # enrollments unless enrollment_state[] says otherwise, only user_ids[] when given.
            states = set(q.get("enrollment_state[]", ["active", "invited"]))
            only = set(q.get("user_ids[]", []))
            items = [
                {
                    **e["user"],
                    **({"email": self.emails.get(str(e["user_id"]))} if "email" in q.get("include[]", []) else {}),
                }
                for e in self.enrollments
                if e["type"] == "StudentEnrollment"
                and e["enrollment_state"] in states
                and (not only or str(e["user_id"]) in only)
            ]
        elif path == f"{c}/students/submissions":
            aids = set(q.get("assignment_ids[]", []))
            published = {str(a["id"]) for a in self.assignments if a.get("published", True)}
            if aids - published:  # submissions_api_controller.rb#for_students
                return 403, {}, json.dumps({"error": "invalid assignment ids requested"})
            students = set(q.get("student_ids[]", []))
            enrolled = {
                str(e["user_id"])
                for e in self.enrollments
                if e["type"] in ("StudentEnrollment", "StudentViewEnrollment") and e["enrollment_state"] != "deleted"
            }
            if "all" not in students and students - enrolled:  # an id the caller may not see: refused
                return 401, {}, json.dumps({"status": "unauthorized", "errors": [{"message": "not authorized"}]})
            if "all" not in students and len(students) > 100:
                return 400, {}, json.dumps({"error": "too many students"})
            since = q.get("graded_since", [None])[0]
            state = q.get("workflow_state", [None])[0]
            items = []
            for (aid, uid), sub in sorted(self.submissions.items()):
                if aid not in aids or ("all" not in students and uid not in students):
                    continue
                if since and (not sub["graded_at"] or sub["graded_at"] < since):
                    continue
                if state and sub["workflow_state"] != state:
                    continue
                items.append(sub)
            if q.get("grouped"):  # one entry per student, paginated by student
                by_student = {}
                for sub in items:
                    by_student.setdefault(sub["user_id"], []).append(sub)
                pool = sorted(int(u) for u in (enrolled if "all" in students else students))
                items = [{"user_id": u, "submissions": by_student.get(u, [])} for u in pool]
        else:
            return 404, {}, json.dumps({"errors": [{"message": "The specified resource does not exist."}]})
        per_page = min(int(q.get("per_page", ["10"])[0]), 100)
        page = int(q.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-Rate-Limit-Remaining": repr(float(self.rate_limit_remaining))}
        if page * per_page < len(items):
            nxt = {k: v for k, v in q.items() if k != "page"}
            nxt["page"] = [str(page + 1)]
            headers["Link"] = f'<{self.api}{path}?{urlencode(nxt, doseq=True)}>; rel="next"'
        return 200, headers, json.dumps(chunk)
