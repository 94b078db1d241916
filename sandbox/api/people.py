"""Canvas REST people: course enrollments (with grades) and users, users' communication channels
and profiles; who may read whose grades and email is decided here, as Canvas does."""

from operator import itemgetter
from typing import Any

from sandbox.api.pipeline import Caller, _ids, canvas_api, iso, not_found, num, paginate, unauthorized
from sandbox.models import (
    GRADER_TYPES,
    STUDENT_TYPES,
    CommunicationChannel,
    SandboxCourse,
    SandboxEnrollment,
    SandboxUser,
)
from sandbox.services.grades import letter_grade

# Endpoints that list people read rows (values()), not model instances: a page is up to 100 people.
USER_FIELDS = ("id", "name", "created_at", "sortable_name", "short_name", "sis_user_id", "login_id")
ENROLLMENT_FIELDS = (
    "id",
    "user_id",
    "course_id",
    "type",
    "updated_at",
    "section_id",
    "workflow_state",
    "current_score",
    "final_score",
    "unposted_current_score",
    "unposted_final_score",
    "override_score",
)


def user_json(user: dict, *, include_email: bool, email: str = "") -> dict:
    """`user` is a row of USER_FIELDS; `email` the user's primary email (see primary_emails)."""
    data: dict[str, Any] = {
        "id": user["id"],
        "name": user["name"],
        "created_at": iso(user["created_at"]),
        "sortable_name": user["sortable_name"],
        "short_name": user["short_name"],
        "sis_user_id": user["sis_user_id"] or None,
        "integration_id": None,
        "login_id": user["login_id"],
    }
    if include_email:
        data["email"] = email or None
    return data


def primary_emails(user_ids: list[int]) -> dict[int, str]:
    """Canvas's User#email of each of these users that has one (SandboxUser.primary_email): the
    first unretired email channel by position."""
    emails: dict[int, str] = {}
    if user_ids:
        channels = (
            CommunicationChannel.objects.filter(user_id__in=user_ids, channel_type="email")
            .exclude(workflow_state="retired")
            .order_by("position", "id")
            .values_list("user_id", "address")
        )
        for user_id, address in channels:
            emails.setdefault(user_id, address)
    return emails


def grades_json(e: dict, *, course: SandboxCourse, root_url: str, grader: bool) -> dict:
    """`e` is a row of ENROLLMENT_FIELDS of an enrollment in `course`."""
    data: dict[str, Any] = {"html_url": f"{root_url}/courses/{e['course_id']}/grades/{e['user_id']}"}
    if grader:
        data.update(
            current_score=num(e["current_score"]),
            current_grade=letter_grade(e["current_score"]),
            final_score=num(e["final_score"]),
            final_grade=letter_grade(e["final_score"]),
            unposted_current_score=num(e["unposted_current_score"]),
            unposted_current_grade=letter_grade(e["unposted_current_score"]),
            unposted_final_score=num(e["unposted_final_score"]),
            unposted_final_grade=letter_grade(e["unposted_final_score"]),
        )
        if e["override_score"] is not None and course.allow_final_grade_override:
            data.update(override_score=num(e["override_score"]), override_grade=letter_grade(e["override_score"]))
    else:
        # Students see only the effective values: the override, when set, replaces the computed grade.
        override = e["override_score"] if course.allow_final_grade_override else None
        current = override if override is not None else e["current_score"]
        final = override if override is not None else e["final_score"]
        data.update(
            current_score=num(current),
            current_grade=letter_grade(current),
            final_score=num(final),
            final_grade=letter_grade(final),
        )
    return data


def enrollment_json(
    e: dict, *, course: SandboxCourse, root_url: str, grader: bool, include_email: bool, email: str = ""
) -> dict:
    """`e` is a row of ENROLLMENT_FIELDS and the user's USER_FIELDS as `user__<field>`, of an
    enrollment in `course`."""
    updated_at = iso(e["updated_at"])
    data = {
        "id": e["id"],
        "user_id": e["user_id"],
        "course_id": e["course_id"],
        "type": e["type"],
        "created_at": updated_at,
        "updated_at": updated_at,
        "associated_user_id": None,
        "start_at": None,
        "end_at": None,
        "course_section_id": e["section_id"],
        "root_account_id": course.instance_id,
        "limit_privileges_to_course_section": False,
        "enrollment_state": e["workflow_state"],
        "role": e["type"],
        "role_id": SandboxEnrollment.TYPES.index(e["type"]) + 1,
        "last_activity_at": None,
        "last_attended_at": None,
        "total_activity_time": 0,
        "sis_account_id": None,
        "sis_course_id": course.sis_course_id or None,
        "sis_section_id": None,
        "sis_user_id": e["user__sis_user_id"] or None,
        "html_url": f"{root_url}/courses/{e['course_id']}/users/{e['user_id']}",
        "user": user_json({f: e[f"user__{f}"] for f in USER_FIELDS}, include_email=include_email, email=email),
    }
    if e["type"] in STUDENT_TYPES:
        data["grades"] = grades_json(e, course=course, root_url=root_url, grader=grader)
    return data


ENROLLMENT_TYPE_ALIASES = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "designer": "DesignerEnrollment",
    "student_view": "StudentViewEnrollment",
}


@canvas_api
def enrollment_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    qs = SandboxEnrollment.objects.filter(course=course)
    types = [ENROLLMENT_TYPE_ALIASES.get(t, t) for t in request.GET.getlist("type[]") + request.GET.getlist("role[]")]
    if types:
        qs = qs.filter(type__in=types)
    states = request.GET.getlist("state[]") or ["active", "invited"]
    qs = qs.filter(workflow_state__in=states)
    if request.GET.get("user_id"):
        qs = qs.filter(user_id=_ids(request, "user_id")[0])
    include_email = "email" in request.GET.getlist("include[]") and grader
    root = caller.instance.root_url

    def serialize(rows):
        emails = primary_emails([e["user_id"] for e in rows]) if include_email else {}
        out = []
        for e in rows:
            own = e["user_id"] == caller.user.id
            data = enrollment_json(
                e,
                course=course,
                root_url=root,
                grader=grader,
                include_email=include_email,
                email=emails.get(e["user_id"], ""),
            )
            if not grader and not own:
                data.pop("grades", None)  # students never see classmates' grades
            out.append(data)
        return out

    rows = qs.values(*ENROLLMENT_FIELDS, *(f"user__{f}" for f in USER_FIELDS))
    return paginate(request, rows, serialize, row_id=itemgetter("id"))


@canvas_api
def course_user_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    enrollments = SandboxEnrollment.objects.filter(course=course).exclude(type="StudentViewEnrollment")
    types = [ENROLLMENT_TYPE_ALIASES.get(t, t) for t in request.GET.getlist("enrollment_type[]")]
    if types:
        enrollments = enrollments.filter(type__in=types)
    states = request.GET.getlist("enrollment_state[]") or ["active", "invited"]
    enrollments = enrollments.filter(workflow_state__in=states)
    qs = SandboxUser.objects.filter(id__in=enrollments.values("user_id"), is_test_user=False)
    user_ids = _ids(request, "user_ids[]")
    if user_ids:
        qs = qs.filter(id__in=user_ids)
    include_email = "email" in request.GET.getlist("include[]") and (grader or caller.user.is_account_admin)

    def serialize(rows):
        emails = primary_emails([u["id"] for u in rows]) if include_email else {}
        return [user_json(u, include_email=include_email, email=emails.get(u["id"], "")) for u in rows]

    return paginate(request, qs.values(*USER_FIELDS), serialize, row_id=itemgetter("id"))


def _user_for(caller: Caller, user_id: int, *, teachers_may_read: bool) -> SandboxUser:
    user = SandboxUser.objects.filter(instance=caller.instance, id=user_id).first()
    if user is None:
        raise not_found()
    if user.id == caller.user.id or caller.user.is_account_admin:
        return user
    if teachers_may_read:
        taught = SandboxEnrollment.objects.filter(
            user=caller.user, type__in=GRADER_TYPES, workflow_state__in=["active", "completed"]
        ).values("course_id")
        if SandboxEnrollment.objects.filter(user=user, course_id__in=taught).exists():
            return user
    raise unauthorized()


@canvas_api
def communication_channel_list(request, caller: Caller, user_id: int):
    user = _user_for(caller, user_id, teachers_may_read=False)

    def serialize(rows):
        return [
            {
                "id": c.id,
                "address": c.address,
                "type": c.channel_type,
                "position": c.position,
                "user_id": c.user_id,
                "workflow_state": c.workflow_state,
                "created_at": None,
            }
            for c in sorted(rows, key=lambda c: (c.position, c.id))
        ]

    # Canvas sorts channels by position; ids follow creation, so page by id and sort each page.
    return paginate(request, CommunicationChannel.objects.filter(user=user), serialize)


@canvas_api
def user_profile(request, caller: Caller, user_id: int):
    return _profile(caller, _user_for(caller, user_id, teachers_may_read=True))


@canvas_api
def self_profile(request, caller: Caller):
    """`/users/self/profile`: the token's own user (what a connection test reads)."""
    return _profile(caller, caller.user)


def _profile(caller: Caller, user: SandboxUser) -> dict:
    instance = caller.instance
    return {
        "id": user.id,
        "name": user.name,
        "short_name": user.short_name,
        "sortable_name": user.sortable_name,
        "title": None,
        "bio": None,
        "primary_email": user.primary_email or None,
        "login_id": user.login_id,
        "sis_user_id": user.sis_user_id or None,
        "integration_id": None,
        "avatar_url": f"{instance.base_url.rstrip('/')}/static/sandbox/img/avatar-50.png",
        "calendar": {"ics": f"{instance.root_url}/feeds/calendars/user_{user.lti_sub}.ics"},
        "time_zone": "UTC",
        "locale": user.locale or None,
        "lti_user_id": user.lti_sub,
        "k5_user": False,
    }
