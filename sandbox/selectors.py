"""Reads for the sandbox's own pages (people list, learner detail)."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Case, Exists, OuterRef, Prefetch, Q, When

from sandbox.models import (
    ROLE_LABELS,
    CommunicationChannel,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxUser,
    Submission,
)
from sandbox.services.base import SandboxError


@dataclass
class PersonRow:
    user: SandboxUser
    roles: list[str]
    sections: list[str]
    states: list[str]
    email: str

    @property
    def first_name(self) -> str:
        return self.user.short_name if self.user.is_test_user else self.user.short_name.split(" ")[0]


def course_people(*, course: SandboxCourse, query: str = "", page: int = 1, per_page: int = 50) -> tuple[Page, list]:
    """One row per person (several sections fold into one): account admins, teachers, TAs and the
    Student View user first, then everyone else by sortable name."""
    enrollments = SandboxEnrollment.objects.filter(course=course)
    users = SandboxUser.objects.filter(
        Q(id__in=enrollments.values("user_id")) | Q(instance=course.instance_id, is_account_admin=True)
    )
    if query:
        users = users.filter(
            Q(name__icontains=query) | Q(login_id__icontains=query) | Q(channels__address__icontains=query)
        )
    # Whom one launches as to try the tool first (admin, teacher, TA, Student View), then learners.
    staff = enrollments.filter(user_id=OuterRef("pk"))
    users = users.distinct().annotate(
        listing=Case(
            When(is_account_admin=True, then=0),
            When(Exists(staff.filter(type="TeacherEnrollment")), then=1),
            When(Exists(staff.filter(type="TaEnrollment")), then=2),
            When(is_test_user=True, then=3),
            default=4,
        )
    )
    users = users.order_by("listing", "sortable_name", "id")
    paginator = Paginator(users, per_page)
    page_obj = paginator.get_page(page)
    ids = [u.id for u in page_obj.object_list]
    rows_by_user: dict[int, list[SandboxEnrollment]] = {}
    for e in enrollments.filter(user_id__in=ids).select_related("section").order_by("id"):
        rows_by_user.setdefault(e.user_id, []).append(e)
    people = SandboxUser.objects.filter(id__in=ids).prefetch_related(
        Prefetch(
            "channels",
            queryset=CommunicationChannel.objects.filter(channel_type="email").exclude(workflow_state="retired"),
            to_attr="email_channels",
        )
    )
    by_id = {u.id: u for u in people}
    rows = []
    for user_id in ids:
        user = by_id[user_id]
        mine = rows_by_user.get(user_id, [])
        roles = sorted({ROLE_LABELS[e.type] for e in mine}) or ["Account admin"]
        if user.is_account_admin and mine:
            roles.append("Account admin")
        rows.append(
            PersonRow(
                user=user,
                roles=roles,
                sections=sorted({e.section.name for e in mine}),
                states=sorted({e.workflow_state for e in mine}),
                email=user.primary_email,
            )
        )
    return page_obj, rows


@dataclass
class AssignmentRow:
    assignment: SandboxAssignment
    submission: Submission | None


def learner_detail(*, course: SandboxCourse, user: SandboxUser) -> dict:
    """What the learner page shows: the user's enrollments in the course, every assignment in
    gradebook order with the user's submission (or None), and their communication channels."""
    enrollments = list(SandboxEnrollment.objects.filter(course=course, user=user).select_related("section"))
    assignments = list(
        SandboxAssignment.objects.filter(course=course)
        .select_related("group", "rubric")
        .order_by("group__position", "position", "id")
    )
    subs = {s.assignment_id: s for s in Submission.objects.filter(assignment__course=course, user=user)}
    return {
        "enrollments": enrollments,
        "student_enrollment": next((e for e in enrollments if e.type == "StudentEnrollment"), None),
        "assignments": [AssignmentRow(assignment=a, submission=subs.get(a.id)) for a in assignments],
        "channels": list(user.channels.order_by("position", "id")),
    }


def course_grader(*, course: SandboxCourse, admin: SandboxUser | None = None) -> SandboxUser:
    """Whom a grade entered through the sandbox is recorded as: the course's first teacher, else
    `admin` (the caller of the admin API), else any account admin. SandboxError if there is none."""
    teacher = SandboxEnrollment.objects.filter(course=course, type="TeacherEnrollment").select_related("user").first()
    if teacher is not None:
        return teacher.user
    admin = admin or SandboxUser.objects.filter(instance=course.instance_id, is_account_admin=True).first()
    if admin is None:
        raise SandboxError("this course has no teacher and the account no admin")
    return admin
