"""The sandbox's own pages: a Canvas-like course with People, a teacher's actions, and "Launch as"."""

from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from sandbox import selectors
from sandbox.models import (
    ROLE_LABELS,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
)
from sandbox.services.base import SandboxError
from sandbox.services.courses import (
    assessment_add,
    assignment_published_set,
    course_conclude,
    course_final_grade_override_set,
)
from sandbox.services.grades import GradeInput, assignment_grades_post, grade_override_set, submission_grade
from sandbox.services.instance import faults_set, live_events_url_set
from sandbox.services.keys import platform_key_rotate
from sandbox.services.people import (
    LOCALES,
    enrollment_create,
    enrollment_state_set,
    primary_email_set,
    user_create,
    user_locale_set,
)
from sandbox.views_lti import launch_form_fields


def _course(instance: str, course_id: int) -> SandboxCourse:
    return get_object_or_404(SandboxCourse.objects.select_related("instance"), instance__slug=instance, id=course_id)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    instances = SandboxInstance.objects.prefetch_related("courses").order_by("id")
    return render(request, "sandbox/index.html", {"instances": instances})


@require_GET
def course_people(request: HttpRequest, instance: str, course_id: int) -> HttpResponse:
    course = _course(instance, course_id)
    query = request.GET.get("q", "").strip()
    page, rows = selectors.course_people(course=course, query=query, page=_page_number(request.GET.get("page")))
    return render(
        request,
        "sandbox/people.html",
        {"course": course, "instance": course.instance, "page": page, "rows": rows, "query": query, "nav": "people"},
    )


def _id(value) -> int:
    """A numeric id from a query or form value; anything else is simply not found."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("no such id")


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def _launch_user(request: HttpRequest, course: SandboxCourse) -> SandboxUser:
    return get_object_or_404(SandboxUser, instance=course.instance, id=_id(request.GET.get("as")))


def _no_access_reason(course: SandboxCourse, user: SandboxUser) -> str | None:
    """Why Canvas would not show this course (hence never launch the tool) to the user, or None."""
    if user.is_account_admin:
        return None
    states = set(course.enrollments.filter(user=user).values_list("workflow_state", flat=True))
    if states - {"deleted", "inactive"}:
        return None
    if "inactive" in states:
        return f"{user.name}'s enrollment in this course is inactive"
    if "deleted" in states:
        return f"{user.name} was dropped from this course"
    return f"{user.name} is not enrolled in this course"


def _no_access(request: HttpRequest, course: SandboxCourse, user: SandboxUser, reason: str) -> HttpResponse:
    context = {"course": course, "instance": course.instance, "acting_as": user, "reason": reason, "nav": "tool"}
    return render(request, "sandbox/tool.html", context, status=403)


@require_GET
def tool_page(request: HttpRequest, instance: str, course_id: int) -> HttpResponse:
    """The course's "Badges" navigation item: the tool in an iframe inside Canvas's chrome."""
    course = _course(instance, course_id)
    user = _launch_user(request, course)
    reason = _no_access_reason(course, user)
    if reason:
        return _no_access(request, course, user, reason)
    launch_url = reverse("sandbox:launch_initiate", args=[course.instance.slug, course.id]) + f"?as={user.id}"
    roles = [ROLE_LABELS[t] for t in course.enrollments.filter(user=user).values_list("type", flat=True)]
    response = render(
        request,
        "sandbox/tool.html",
        {
            "course": course,
            "instance": course.instance,
            "acting_as": user,
            "acting_roles": sorted(set(roles)) or (["Account admin"] if user.is_account_admin else ["No role"]),
            "launch_url": launch_url,
            "nav": "tool",
        },
    )
    # Canvas's page frames the tool's origin; the project's default CSP would forbid any frame.
    tool = urlsplit(course.instance.tool_launch_url)
    tool_origin = f"{tool.scheme}://{tool.netloc}"
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'self'; frame-src 'self' {tool_origin}; form-action 'self' {tool_origin}; frame-ancestors 'self'"
    )
    return response


def _frame_csp(response: HttpResponse, instance: SandboxInstance) -> HttpResponse:
    tool = urlsplit(instance.tool_launch_url)
    tool_origin = f"{tool.scheme}://{tool.netloc}"
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'self'; frame-src 'self' {tool_origin}; form-action 'self' {tool_origin}; frame-ancestors 'self'"
    )
    return response


@require_GET
def user_tool_page(request: HttpRequest, instance: str, user_id: int) -> HttpResponse:
    """The user's Account tray item "My badges" (user_navigation): the tool framed outside any course."""
    user = get_object_or_404(SandboxUser.objects.select_related("instance"), instance__slug=instance, id=user_id)
    launch_url = reverse("sandbox:user_launch_initiate", args=[user.instance.slug, user.id])
    response = render(
        request,
        "sandbox/user_tool.html",
        {"instance": user.instance, "acting_as": user, "launch_url": launch_url, "nav": "tool"},
    )
    return _frame_csp(response, user.instance)


@require_GET
def user_launch_initiate(request: HttpRequest, instance: str, user_id: int) -> HttpResponse:
    """Login initiation of a user navigation launch (no course in the hint)."""
    user = get_object_or_404(SandboxUser.objects.select_related("instance"), instance__slug=instance, id=user_id)
    fields = launch_form_fields(instance=user.instance, user=user, course=None)
    return render(request, "sandbox/form_post.html", {"action": user.instance.tool_login_url, "fields": fields.items()})


@require_GET
def launch_initiate(request: HttpRequest, instance: str, course_id: int) -> HttpResponse:
    """Third-party initiated login: auto-POSTs iss, login_hint, lti_message_hint… to the tool's login URL."""
    course = _course(instance, course_id)
    user = _launch_user(request, course)
    reason = _no_access_reason(course, user)
    if reason:
        return _no_access(request, course, user, reason)
    fields = launch_form_fields(instance=course.instance, user=user, course=course)
    return render(
        request, "sandbox/form_post.html", {"action": course.instance.tool_login_url, "fields": fields.items()}
    )


def _decimal(value: str, label: str) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SandboxError(f"{label} must be a number")


@require_http_methods(["GET", "POST"])
def learner_page(request: HttpRequest, instance: str, course_id: int, user_id: int) -> HttpResponse:
    course = _course(instance, course_id)
    user = get_object_or_404(SandboxUser, instance=course.instance, id=user_id)
    if request.method == "POST":
        try:
            message = _learner_action(request, course, user)
            messages.success(request, message)
        except SandboxError as exc:
            messages.error(request, str(exc))
        except ValueError:
            messages.error(request, "Enter numbers in the number fields.")
        return redirect(request.path)
    context = selectors.learner_detail(course=course, user=user)
    context.update(
        course=course,
        instance=course.instance,
        person=user,
        nav="people",
        states=SandboxEnrollment.STATES,
        locales=LOCALES,
    )
    return render(request, "sandbox/learner.html", context)


def _learner_action(request: HttpRequest, course: SandboxCourse, user: SandboxUser) -> str:
    action = request.POST.get("action")
    if action == "grade":
        assignment = get_object_or_404(SandboxAssignment, course=course, id=_id(request.POST.get("assignment_id")))
        post = request.POST.get("post") == "on"
        if assignment.rubric is not None:
            criteria = assignment.rubric.data
            ratings = {
                c["id"]: request.POST[f"rating_{c['id']}"] for c in criteria if request.POST.get(f"rating_{c['id']}")
            }
            if len(ratings) != len(criteria):
                raise SandboxError("choose a rating for every criterion")
            grade = GradeInput(ratings=ratings)
        else:
            grade = GradeInput(score=_decimal(request.POST.get("score", ""), "the score"))
        grader = selectors.course_grader(course=course)
        submission_grade(assignment=assignment, user=user, grader=grader, grade=grade, post=post)
        return f"Graded {assignment.name} for {user.name}" + (" and posted the grade." if post else " (not posted).")
    if action == "override":
        score = None if "clear" in request.POST else _decimal(request.POST.get("override_score", ""), "the override")
        grade_override_set(course=course, user=user, score=score)
        return f"Final grade override {'cleared' if score is None else f'set to {score}%'} for {user.name}."
    if action == "locale":
        user_locale_set(user=user, locale=request.POST.get("locale", ""))
        return f"{user.name}'s language is now {dict(LOCALES)[user.locale]}."
    if action == "email":
        primary_email_set(user=user, address=request.POST.get("address", ""))
        return f"{user.name}'s primary email is now {request.POST.get('address', '').strip()}."
    if action == "enrollment_state":
        enrollment = get_object_or_404(
            SandboxEnrollment, course=course, user=user, id=_id(request.POST.get("enrollment_id"))
        )
        enrollment_state_set(enrollment=enrollment, state=request.POST.get("state", ""))
        return f"Enrollment is now {enrollment.workflow_state}."
    if action == "enroll":
        enrollment_create(course=course, user=user, type=request.POST.get("type", "StudentEnrollment"))
        return f"{user.name} is enrolled."
    raise SandboxError("unknown action")


@require_http_methods(["GET", "POST"])
def course_settings(request: HttpRequest, instance: str, course_id: int) -> HttpResponse:
    course = _course(instance, course_id)
    if request.method == "POST" and request.POST.get("action") == "register_tool":
        return _tool_register_by_url(request, course)
    if request.method == "POST":
        try:
            messages.success(request, _settings_action(request, course))
        except SandboxError as exc:
            messages.error(request, str(exc))
        except ValueError:
            messages.error(request, "Enter numbers in the number fields.")
        return redirect(request.path)
    assignments = (
        SandboxAssignment.objects.filter(course=course).select_related("group").order_by("group__position", "position")
    )
    return render(
        request,
        "sandbox/settings.html",
        {"course": course, "instance": course.instance, "assignments": assignments, "nav": "settings"},
    )


def _tool_register_by_url(request: HttpRequest, course: SandboxCourse) -> HttpResponse:
    """Canvas's "+ LTI Registration" with a URL: the tool's registration page opens in a frame of
    Canvas's, with openid_configuration (on the issuer's host) and a registration token added."""
    from sandbox.dynamic_registration import registration_start

    url = request.POST.get("registration_url", "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        messages.error(request, "Enter the tool's registration URL (http or https).")
        return redirect(request.path)
    opened = registration_start(instance=course.instance, tool_registration_url=url)
    return render(
        request,
        "sandbox/register.html",
        {"course": course, "instance": course.instance, "opened": opened, "nav": "settings"},
    )


def _settings_action(request: HttpRequest, course: SandboxCourse) -> str:
    action = request.POST.get("action")
    instance = course.instance
    if action == "add_assessment":
        titles = [t.strip() for t in request.POST.get("criteria", "").splitlines() if t.strip()]
        assignment = assessment_add(course=course, name=request.POST.get("name", ""), criteria_titles=titles)
        return f"Added the credentialing assessment {assignment.name}."
    if action == "post_grades":
        assignment = get_object_or_404(SandboxAssignment, course=course, id=_id(request.POST.get("assignment_id")))
        count = assignment_grades_post(assignment=assignment)
        return f"Posted {count} grade{'s' if count != 1 else ''} for {assignment.name}."
    if action == "publish":
        assignment = get_object_or_404(SandboxAssignment, course=course, id=_id(request.POST.get("assignment_id")))
        published = request.POST.get("published") == "1"
        assignment_published_set(assignment=assignment, published=published)
        return f"{'Published' if published else 'Unpublished'} {assignment.name}."
    if action == "final_grade_override":
        allowed = request.POST.get("allowed") == "1"
        course_final_grade_override_set(course=course, allowed=allowed)
        return f"Final grade override is now {'allowed' if allowed else 'not allowed'} in this course."
    if action == "add_person":
        user = user_create(
            instance=instance, name=request.POST.get("name", ""), email=request.POST.get("email", "").strip()
        )
        enrollment_create(course=course, user=user, type=request.POST.get("type", "StudentEnrollment"))
        return f"Enrolled {user.name}."
    if action == "faults":
        faults_set(
            instance=instance,
            latency_ms=int(request.POST.get("latency_ms") or 0),
            error_rate=float(_decimal(request.POST.get("error_rate", ""), "the error rate") or 0),
            bucket_size=float(_decimal(request.POST.get("bucket_size", ""), "the bucket size") or 700),
        )
        return "REST faults updated."
    if action == "conclude_course":
        count = course_conclude(course=course)
        return f"Course concluded: {count} enrollment{'s' if count != 1 else ''} completed."
    if action == "rotate_keys":
        key = platform_key_rotate(instance=instance)
        return f"Platform key rotated: new kid {key.kid}."
    if action == "live_events":
        live_events_url_set(instance=instance, url=request.POST.get("live_events_url", ""))
        return "Live Events URL saved." if instance.live_events_url else "Live Events turned off."
    raise SandboxError("unknown action")
