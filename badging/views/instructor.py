"""Instructor pages: the dashboard, one learner's "why not issued?", and the confirmed actions.

Every view is reached through the launch id in the URL and allowed only to instructors, TAs and
admins of that launch's course; every object is looked up within that course, so a launch from
another course or another Canvas instance gets a 404, never someone else's data.
"""

import csv
from functools import wraps
from urllib.parse import urlencode

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from badging.models import Award, CourseBadge
from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.dashboard.display_states import (
    DISPLAY_STATE_LABELS,
    DISPLAY_STATE_TONES,
    DISPLAY_STATES,
    FAILED,
    state_counts,
)
from badging.selectors.dashboard.explanation import learner_explanation
from badging.selectors.dashboard.learner_table import SORTS, LearnerFilters, learner_rows_iter, learner_table
from badging.selectors.dashboard.overview import (
    awards_needing_review_count,
    course_badges_for_dashboard,
    recent_actions,
)
from badging.selectors.dashboard.rule_check import rule_check
from badging.selectors.dashboard.sync_status import sync_status
from badging.selectors.powers import NOT_ON_ROSTER, instructor_powers, still_teaches
from badging.services import instructor as svc
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


def _dashboard_url(launch, course_badge=None, **params) -> str:
    url = reverse("badging:instructor_dashboard", args=[launch.public_id])
    if course_badge is not None:
        params["badge"] = course_badge.pk
    query = urlencode({k: v for k, v in params.items() if v not in ("", None)})
    return f"{url}?{query}" if query else url


def _course_badge(launch, course_badge_id: int) -> CourseBadge:
    return get_object_or_404(
        CourseBadge.objects.select_related("badge_class").defer("badge_class__image"),
        pk=course_badge_id,
        course_id=launch.course_id,
    )


def _award(launch, award_public_id: str) -> Award:
    return get_object_or_404(
        Award.objects.select_related("course_badge", "badge_class", "learner").defer(
            "ob3_credential", "ob3_jwt", "badge_class__image"
        ),
        public_id=award_public_id,
        course_badge__course_id=launch.course_id,
    )


def _learner_url(launch, award: Award) -> str:
    """The instructor's page of the award's learner, where every award action returns."""
    return reverse("badging:instructor_learner", args=[launch.public_id, award.course_badge_id, award.learner_id])


def _base_context(launch) -> dict:
    return {"launch": launch, "dashboard_url": _dashboard_url(launch)}


def _sort_links(launch, course_badge, filters) -> dict[str, dict[str, str]]:
    """Each column header's link: sorts by it, or flips the direction when it is already the sort."""
    links = {}
    for key in SORTS:
        current = filters.sort == key
        next_dir = "desc" if current and not filters.descending else ""
        links[key] = {
            "url": _dashboard_url(launch, course_badge, **filters.as_query(sort=key, dir=next_dir, page="")),
            "aria_sort": ("descending" if filters.descending else "ascending") if current else "",
        }
    return links


@require_GET
@launch_context_required(roles=INSTRUCTOR_ROLES)
def dashboard(request, launch):
    course_badges = course_badges_for_dashboard(course=launch.course)
    counts = state_counts(course_badge_ids=[cb.pk for cb in course_badges])
    selected = None
    wanted = request.GET.get("badge", "")
    if wanted.isdigit():
        selected = next((cb for cb in course_badges if cb.pk == int(wanted)), None)
    if selected is None and course_badges:
        selected = course_badges[0]
    context = _base_context(launch) | {
        "course_badges": course_badges,
        "counts": counts,
        "selected": selected,
        "sync": sync_status(course=launch.course),
        "recent_actions": recent_actions(course=launch.course),
        "notice": NOTICES.get(request.GET.get("done", "")),
        "course_powers": instructor_powers(launch=launch),
    }
    if selected is not None:
        filters = LearnerFilters.from_query(request.GET)
        rule = rule_check(course_badge=selected)
        table = learner_table(
            course_badge=selected, filters=filters, page_number=request.GET.get("page"), rules=rule.assessments
        )
        selected_counts = counts.get(selected.pk, {})
        context |= {
            "rule": rule,
            "table": table,
            "filters": filters,
            "state_tiles": [
                {
                    "key": key,
                    "label": label,
                    "count": selected_counts.get(key, 0),
                    "tone": DISPLAY_STATE_TONES[key],
                    "url": _dashboard_url(launch, selected, **filters.as_query(state=key)),
                    "current": filters.state == key,
                }
                for key, label in DISPLAY_STATES
            ],
            "total_learners": sum(selected_counts.values()),
            "failed_count": selected_counts.get(FAILED, 0),
            "review_count": awards_needing_review_count(course_badge=selected),
            "state_choices": DISPLAY_STATES,
            "powers": instructor_powers(launch=launch, course_badge=selected),
            "sort_links": _sort_links(launch, selected, filters),
            "page_url_prefix": _dashboard_url(launch, selected, **filters.as_query()),
            "export_url": reverse("badging:instructor_export", args=[launch.public_id, selected.pk])
            + ("?" + urlencode(filters.as_query()) if filters.as_query() else ""),
            "clear_url": _dashboard_url(launch, selected),
        }
    return render(request, "badging/instructor/dashboard.html", context)


@require_GET
@launch_context_required(roles=INSTRUCTOR_ROLES)
def learner_detail(request, launch, course_badge_id: int, learner_id: int):
    course_badge = _course_badge(launch, course_badge_id)
    explanation = learner_explanation(course_badge=course_badge, learner_id=learner_id)
    if explanation is None:
        raise Http404("This learner has no progress on this badge.")
    return render(
        request,
        "badging/instructor/learner.html",
        _base_context(launch)
        | {
            "course_badge": course_badge,
            "explanation": explanation,
            "row": explanation.row,
            "back_url": _dashboard_url(launch, course_badge),
            "notice": NOTICES.get(request.GET.get("done", "")),
            "powers": instructor_powers(launch=launch, course_badge=course_badge),
            "public_url": (
                PublicLinks(public_base_url(request)).assertion(explanation.row.award.public_id)
                if explanation.row.award
                else ""
            ),
        },
    )


def _confirm(
    request, launch, *, action: str, title: str, question: str, button: str, cancel_url: str, status=200, **extra
):
    """The confirm step of every action: a page that says what will happen, with a POST form."""
    return render(
        request,
        "badging/instructor/confirm.html",
        _base_context(launch)
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


def _read_only(request, launch, course_badge, back_url: str):
    """The refusal of an action this launch may not take (concluded enrollment, a teaching assistant
    on a badge that does not allow them, an instructor no longer on the roster); None when allowed.
    Checked on GET and POST alike, before anything is done."""
    powers = instructor_powers(launch=launch, course_badge=course_badge)
    if powers.may_act:
        return None
    return render(
        request,
        "badging/instructor/unavailable.html",
        _base_context(launch) | {"title": _("Read-only"), "message": powers.why_not, "back_url": back_url},
        status=403,
    )


def _unavailable(request, launch, exc: Exception, back_url: str):
    return render(
        request,
        "badging/instructor/unavailable.html",
        _base_context(launch) | {"message": str(exc), "back_url": back_url},
        status=409,
    )


@confirmed_action("sync")
def sync_now(request, launch):
    back = _dashboard_url(launch)
    if refused := _read_only(request, launch, None, back):
        return refused
    if request.method == "GET":
        return _confirm(
            request,
            launch,
            action="sync",
            title=_("Sync with Canvas now?"),
            question=_(
                "The tool will read this course's assignments, rubrics, grades and learners from Canvas again, "
                "then update every learner's badge status. It runs in the background."
            ),
            button=_("Sync now"),
            cancel_url=back,
        )
    enqueued = svc.course_sync_now(launch=launch)
    return redirect(_dashboard_url(launch, done="sync" if enqueued else "sync_queued"))


@confirmed_action("retry")
def retry_failed(request, launch, course_badge_id: int):
    course_badge = _course_badge(launch, course_badge_id)
    back = _dashboard_url(launch, course_badge)
    if refused := _read_only(request, launch, course_badge, back):
        return refused
    if request.method == "GET":
        failed = state_counts(course_badge_ids=[course_badge.pk])[course_badge.pk][FAILED]
        return _confirm(
            request,
            launch,
            action="retry",
            title=_("Retry failed issuing?"),
            question=ngettext(
                "%(count)s learner earned “%(badge)s” but issuing failed. The tool will try to issue their "
                "badge again now instead of waiting for the next automatic retry.",
                "%(count)s learners earned “%(badge)s” but issuing failed. The tool will try to issue their "
                "badges again now instead of waiting for the next automatic retry.",
                failed,
            )
            % {"count": failed, "badge": course_badge.badge_class.name},
            button=_("Retry now"),
            cancel_url=back,
            disabled=failed == 0,
            disabled_reason=_("No learner has failed issuing: there is nothing to retry."),
        )
    svc.issuance_failures_retry(launch=launch, course_badge=course_badge)
    return redirect(_dashboard_url(launch, course_badge, done="retry"))


@confirmed_action("revoke")
def revoke(request, launch, award_public_id: str):
    award = _award(launch, award_public_id)
    back = _learner_url(launch, award)
    if refused := _read_only(request, launch, award.course_badge, back):
        return refused
    if award.revoked:
        return _unavailable(request, launch, Exception(_("This badge is already revoked.")), back)
    error = ""
    reason = ""
    if request.method == "POST":
        reason = (request.POST.get("reason") or "").strip()
        if not reason:
            error = _("Give a reason: it is shown on the badge's public page and to the learner.")
        elif len(reason) > 1000:
            error = _("Keep the reason under 1,000 characters.")
        else:
            svc.award_revoke_as_instructor(launch=launch, award=award, reason=reason)
            return redirect(f"{back}?done=revoked")
    return _confirm(
        request,
        launch,
        action="revoke",
        title=_("Revoke this badge?"),
        question=_(
            "“%(badge)s” issued to %(learner)s (%(email)s) on %(date)s. Revoking cannot be undone: its public "
            "page, its Open Badges assertion and its credential will say it was revoked, with your reason."
        )
        % {
            "badge": award.badge_class.name,
            "learner": award.learner,
            "email": award.recipient_email,
            "date": date_format(timezone.localtime(award.issued_on), "SHORT_DATE_FORMAT"),
        },
        button=_("Revoke badge"),
        danger=True,
        cancel_url=back,
        reason_field=True,
        reason=reason,
        error=error,
        status=400 if error else 200,
    )


@confirmed_action("resend")
def resend(request, launch, award_public_id: str):
    award = _award(launch, award_public_id)
    back = _learner_url(launch, award)
    if refused := _read_only(request, launch, award.course_badge, back):
        return refused
    if request.method == "GET":
        return _confirm(
            request,
            launch,
            action="resend",
            title=_("Send the badge email again?"),
            question=_("The email about “%(badge)s” goes again to %(email)s, the address the badge was issued to.")
            % {"badge": award.badge_class.name, "email": award.recipient_email},
            button=_("Send again"),
            cancel_url=back,
            disabled=bool(refusal := svc.award_resend_refusal(award=award)),
            disabled_reason=refusal,
        )
    try:
        svc.award_notification_resend(launch=launch, award=award)
    except svc.ActionUnavailable as exc:
        return _unavailable(request, launch, exc, back)
    return redirect(f"{back}?done=resent")


@confirmed_action("keep")
def keep(request, launch, award_public_id: str):
    award = _award(launch, award_public_id)
    back = _learner_url(launch, award)
    if refused := _read_only(request, launch, award.course_badge, back):
        return refused
    if request.method == "GET":
        return _confirm(
            request,
            launch,
            action="keep",
            title=_("Keep this badge?"),
            question=_(
                "“%(badge)s” was issued to %(learner)s on %(date)s; since then %(change)s. Keeping it leaves the "
                "badge valid and clears the review mark; a further change marks it again."
            )
            % {
                "badge": award.badge_class.name,
                "learner": award.learner,
                "date": date_format(timezone.localtime(award.issued_on), "SHORT_DATE_FORMAT"),
                "change": award.review_reason or _("a grade changed"),
            },
            button=_("Keep badge"),
            cancel_url=back,
            disabled=award.revoked or not award.needs_review,
            disabled_reason=_("This badge does not need review."),
        )
    try:
        svc.award_keep_as_instructor(launch=launch, award=award)
    except svc.ActionUnavailable as exc:
        return _unavailable(request, launch, exc, back)
    return redirect(f"{back}?done=kept")


class _Echo:
    """csv.writer target that hands each line back instead of buffering it."""

    def write(self, value):
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    # Names come from Canvas: a leading "=" must not become a formula in a spreadsheet.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_lines(course_badge, filters, links: PublicLinks):
    writer = csv.writer(_Echo())
    header_done = False
    for rules, row in learner_rows_iter(course_badge=course_badge, filters=filters):
        if not header_done:
            header = [_("Name"), _("Sortable name"), _("Canvas user id")]
            for rule in rules:
                header += [
                    _("%(assessment)s: score") % {"assessment": rule.name},
                    _("%(assessment)s: mastered") % {"assessment": rule.name},
                ]
            header += [
                _("Final grade"),
                _("State"),
                _("Reason"),
                _("Award date"),
                _("Public assertion"),
                _("Email"),
                _("Email delivery"),
                _("Delivery error"),
            ]
            yield writer.writerow([_cell(h) for h in header])
            header_done = True
        learner = row.learner
        line = [learner.name, learner.sortable_name, learner.canvas_user_id]
        for cell in row.assessments:
            line += [cell.score_text if cell.score is not None else "", _("yes") if cell.mastered else _("no")]
        delivery = row.email_delivery
        line += [
            row.final_grade_text,
            row.state_label,
            row.reason,
            row.award.issued_on.date().isoformat() if row.award else "",
            links.assertion(row.award.public_id) if row.award else "",  # absolute: the file leaves the tool
            row.email,
            delivery.get_status_display() if delivery else "",
            delivery.last_error if delivery else "",
        ]
        yield writer.writerow([_cell(v) for v in line])
    if not header_done:
        yield writer.writerow([_("Name"), _("Sortable name"), _("Canvas user id"), _("State")])


@confirmed_action("export")
def export(request, launch, course_badge_id: int):
    course_badge = _course_badge(launch, course_badge_id)
    if launch.role == "instructor" and not still_teaches(launch=launch):
        # Reading the table stays a read (teaching assistants, concluded courses), but a file of
        # every learner's email leaves with someone Canvas says no longer teaches here: no.
        return render(
            request,
            "badging/instructor/unavailable.html",
            _base_context(launch)
            | {"title": _("Read-only"), "message": NOT_ON_ROSTER, "back_url": _dashboard_url(launch)},
            status=403,
        )
    source = request.GET if request.method == "GET" else request.POST
    filters = LearnerFilters.from_query(source)
    if request.method == "GET":
        described = []
        if filters.state:
            described.append(_("state “%(state)s”") % {"state": DISPLAY_STATE_LABELS[filters.state]})
        if filters.q:
            described.append(_("search “%(search)s”") % {"search": filters.q})
        if len(described) == 2:
            scope = _("the learners matching %(first)s and %(second)s") % {
                "first": described[0],
                "second": described[1],
            }
        elif described:
            scope = _("the learners matching %(filter)s") % {"filter": described[0]}
        else:
            scope = _("every learner")
        return _confirm(
            request,
            launch,
            action="export",
            title=_("Export the learner table?"),
            question=_(
                "A CSV file with %(scope)s of “%(badge)s”: names, Canvas user ids, results, states and the email "
                "addresses badges went to. It contains personal data: store it as your institution requires."
            )
            % {"scope": scope, "badge": course_badge.badge_class.name},
            button=_("Download CSV"),
            cancel_url=_dashboard_url(launch, course_badge, **filters.as_query()),
            hidden=filters.as_query(),
        )
    svc.learner_export_record(launch=launch, course_badge=course_badge, filters=filters.as_query())
    response = StreamingHttpResponse(
        _csv_lines(course_badge, filters, PublicLinks(public_base_url(request))), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="badge-{course_badge.pk}-learners-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


prefix = "l/<str:launch_id>/instructor/"
urlpatterns = [
    path(prefix, dashboard, name="instructor_dashboard"),
    path(f"{prefix}sync/", sync_now, name="instructor_sync"),
    path(f"{prefix}badges/<int:course_badge_id>/learners/<int:learner_id>/", learner_detail, name="instructor_learner"),
    path(f"{prefix}badges/<int:course_badge_id>/retry/", retry_failed, name="instructor_retry"),
    path(f"{prefix}badges/<int:course_badge_id>/export/", export, name="instructor_export"),
    path(f"{prefix}awards/<str:award_public_id>/revoke/", revoke, name="instructor_revoke"),
    path(f"{prefix}awards/<str:award_public_id>/resend/", resend, name="instructor_resend"),
    path(f"{prefix}awards/<str:award_public_id>/keep/", keep, name="instructor_keep"),
]
