"""The instructor's CSV export of a course badge's learners, streamed row by row and safe to open in
a spreadsheet."""

import csv

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.dashboard.display_states import (
    DISPLAY_STATE_LABELS,
)
from badging.selectors.dashboard.learner_table import LearnerFilters, learner_rows_iter
from badging.selectors.powers import NOT_ON_ROSTER, still_teaches
from badging.services import instructor as svc
from badging.views.instructor.access import (
    base_context,
    confirm_page,
    confirmed_action,
    course_badge_in_course,
    dashboard_url,
)


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
    course_badge = course_badge_in_course(launch, course_badge_id)
    if launch.role == "instructor" and not still_teaches(launch=launch):
        # Reading the table stays a read (teaching assistants, concluded courses), but a file of
        # every learner's email leaves with someone Canvas says no longer teaches here: no.
        return render(
            request,
            "badging/instructor/unavailable.html",
            base_context(launch)
            | {"title": _("Read-only"), "message": NOT_ON_ROSTER, "back_url": dashboard_url(launch)},
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
        return confirm_page(
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
            cancel_url=dashboard_url(launch, course_badge, **filters.as_query()),
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
