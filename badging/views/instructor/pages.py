"""The instructor's read pages: the dashboard of a course's badges and learners, and one learner's
"why not issued?"."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.dashboard.display_states import (
    DISPLAY_STATE_TONES,
    DISPLAY_STATES,
    FAILED,
    state_counts,
)
from badging.selectors.dashboard.explanation import learner_explanation
from badging.selectors.dashboard.learner_table import SORTS, LearnerFilters, learner_table
from badging.selectors.dashboard.overview import (
    awards_needing_review_count,
    course_badges_for_dashboard,
    recent_actions,
)
from badging.selectors.dashboard.rule_check import rule_check
from badging.selectors.dashboard.sync_status import sync_status
from badging.selectors.powers import instructor_powers
from badging.views.instructor.access import (
    INSTRUCTOR_ROLES,
    NOTICES,
    base_context,
    course_badge_in_course,
    dashboard_url,
)
from lti.launch import launch_context_required


def _sort_links(launch, course_badge, filters) -> dict[str, dict[str, str]]:
    """Each column header's link: sorts by it, or flips the direction when it is already the sort."""
    links = {}
    for key in SORTS:
        current = filters.sort == key
        next_dir = "desc" if current and not filters.descending else ""
        links[key] = {
            "url": dashboard_url(launch, course_badge, **filters.as_query(sort=key, dir=next_dir, page="")),
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
    context = base_context(launch) | {
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
                    "url": dashboard_url(launch, selected, **filters.as_query(state=key)),
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
            "page_url_prefix": dashboard_url(launch, selected, **filters.as_query()),
            "export_url": reverse("badging:instructor_export", args=[launch.public_id, selected.pk])
            + ("?" + urlencode(filters.as_query()) if filters.as_query() else ""),
            "clear_url": dashboard_url(launch, selected),
        }
    return render(request, "badging/instructor/dashboard.html", context)


@require_GET
@launch_context_required(roles=INSTRUCTOR_ROLES)
def learner_detail(request, launch, course_badge_id: int, learner_id: int):
    course_badge = course_badge_in_course(launch, course_badge_id)
    explanation = learner_explanation(course_badge=course_badge, learner_id=learner_id)
    if explanation is None:
        raise Http404("This learner has no progress on this badge.")
    return render(
        request,
        "badging/instructor/learner.html",
        base_context(launch)
        | {
            "course_badge": course_badge,
            "explanation": explanation,
            "row": explanation.row,
            "back_url": dashboard_url(launch, course_badge),
            "notice": NOTICES.get(request.GET.get("done", "")),
            "powers": instructor_powers(launch=launch, course_badge=course_badge),
            "public_url": (
                PublicLinks(public_base_url(request)).assertion(explanation.row.award.public_id)
                if explanation.row.award
                else ""
            ),
        },
    )
