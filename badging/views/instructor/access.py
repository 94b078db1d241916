"""What every instructor view shares: the instructor roles, the notices after an action, the
action form's token and the confirmed-action decorator, lookups scoped to the launch's course, and
the confirm and refusal pages."""

from functools import wraps
from urllib.parse import urlencode

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from badging.models import Award, CourseBadge
from badging.selectors.powers import instructor_powers
from badging.views import launch_form_token
from lti.launch import launch_context_required, request_from_this_site

INSTRUCTOR_ROLES = ("instructor", "admin")

# Fixed texts for the notice shown after an action (a key in the redirect, so no cookie is needed
# inside the Canvas iframe, and nothing from the URL is ever echoed).
NOTICES = {
    "sync": (
        "success",
        gettext_lazy("Sync requested. Canvas data usually arrives within a minute: reload this page to see it."),
    ),
    "sync_queued": ("success", gettext_lazy("A sync of this course is already queued: it will include your request.")),
    "retry": ("success", gettext_lazy("Failed issuing handed back to the issuer: the learners are queued again.")),
    "revoked": ("success", gettext_lazy("The badge was revoked. Its public page and credential now say so.")),
    "resent": ("success", gettext_lazy("The badge email is being sent again.")),
    "kept": ("success", gettext_lazy("You kept the badge. It is no longer marked for review.")),
}


def action_token(*, launch, action: str) -> str:
    """The anti-forgery token of one action's form, bound to this launch (see launch_form_token)."""
    return launch_form_token(launch=launch, purpose=f"instructor.{action}")


def confirmed_action(action: str):
    """An action view: GET shows its confirm page, POST acts, only with that page's token.

    Order: the launch (who, which course, instructor role) is resolved first, then the token.
    """

    def decorator(view):
        @wraps(view)
        def checked(request, *args, launch, **kwargs):
            if request.method == "POST" and not (
                request_from_this_site(request)
                and constant_time_compare(request.POST.get("token", ""), action_token(launch=launch, action=action))
            ):
                return render(
                    request,
                    "lti/error.html",
                    {
                        "title": _("This form cannot be used"),
                        "message": _("The form was not sent from this Badges page, or it has expired."),
                        "advice": _("Go back to the dashboard and try again."),
                    },
                    status=403,
                )
            return view(request, *args, launch=launch, **kwargs)

        # The token above replaces Django's cookie-based CSRF check (see launch_form_token).
        return csrf_exempt(
            require_http_methods(["GET", "POST"])(launch_context_required(roles=INSTRUCTOR_ROLES)(checked))
        )

    return decorator


def dashboard_url(launch, course_badge=None, **params) -> str:
    url = reverse("badging:instructor_dashboard", args=[launch.public_id])
    if course_badge is not None:
        params["badge"] = course_badge.pk
    query = urlencode({k: v for k, v in params.items() if v not in ("", None)})
    return f"{url}?{query}" if query else url


def course_badge_in_course(launch, course_badge_id: int) -> CourseBadge:
    return get_object_or_404(
        CourseBadge.objects.select_related("badge_class").defer("badge_class__image"),
        pk=course_badge_id,
        course_id=launch.course_id,
    )


def award_in_course(launch, award_public_id: str) -> Award:
    return get_object_or_404(
        Award.objects.select_related("course_badge", "badge_class", "learner").defer(
            "ob3_credential", "ob3_jwt", "badge_class__image"
        ),
        public_id=award_public_id,
        course_badge__course_id=launch.course_id,
    )


def learner_url(launch, award: Award) -> str:
    """The instructor's page of the award's learner, where every award action returns."""
    return reverse("badging:instructor_learner", args=[launch.public_id, award.course_badge_id, award.learner_id])


def base_context(launch) -> dict:
    return {"launch": launch, "dashboard_url": dashboard_url(launch)}


def confirm_page(
    request, launch, *, action: str, title: str, question: str, button: str, cancel_url: str, status=200, **extra
):
    """The confirm step of every action: a page that says what will happen, with a POST form."""
    return render(
        request,
        "badging/instructor/confirm.html",
        base_context(launch)
        | {
            "title": title,
            "question": question,
            "button": button,
            "cancel_url": cancel_url,
            "form_token": action_token(launch=launch, action=action),
        }
        | extra,
        status=status,
    )


def read_only_refusal(request, launch, course_badge, back_url: str):
    """The refusal of an action this launch may not take (concluded enrollment, a teaching assistant
    on a badge that does not allow them, an instructor no longer on the roster); None when allowed.
    Checked on GET and POST alike, before anything is done."""
    powers = instructor_powers(launch=launch, course_badge=course_badge)
    if powers.may_act:
        return None
    return render(
        request,
        "badging/instructor/unavailable.html",
        base_context(launch) | {"title": _("Read-only"), "message": powers.why_not, "back_url": back_url},
        status=403,
    )


def unavailable_page(request, launch, exc: Exception, back_url: str):
    return render(
        request,
        "badging/instructor/unavailable.html",
        base_context(launch) | {"message": str(exc), "back_url": back_url},
        status=409,
    )
