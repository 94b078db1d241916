"""Where a launch lands (/l/<launch_id>/): the learner page, or routing by role.

Views only translate: they read through badging.selectors.learner (page_cache, course_setup) and write through
badging.services.sharing. A page view never calls Canvas; it may ask for a background sync.
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from badging.selectors.learner import cached as page_cache
from badging.selectors.learner.course_setup import course_has_badge, course_setup
from badging.services.sharing import AwardNotYours, award_share_set
from badging.services.sync.coordination import course_sync_request_if_stale
from badging.templatetags.learner_format import ago
from badging.views import launch_form_token
from lti.launch import launch_context_required, request_from_this_site
from lti.models import LaunchContext

logger = logging.getLogger(__name__)


def _sync_if_stale(*, course_id: int) -> None:
    """Ask for a background sync when the course's data is stale; never fails the page."""
    try:
        course_sync_request_if_stale(course_id=course_id)
    except Exception:
        # The page still shows the last synced data; the periodic sync catches up.
        logger.exception("could not request a sync of course %s", course_id)


def _instructor_dashboard_url(launch: LaunchContext) -> str | None:
    try:
        return reverse("badging:instructor_dashboard", args=[launch.public_id])
    except NoReverseMatch:
        return None


def share_form_token(launch: LaunchContext) -> str:
    """The share form's anti-forgery token, bound to this launch (see launch_form_token)."""
    return launch_form_token(launch=launch, purpose="learner.share")


@require_GET
@launch_context_required
def launch_home(request, launch: LaunchContext):
    if launch.role != LaunchContext.ROLE_LEARNER:
        _sync_if_stale(course_id=launch.course_id_required)
    if launch.role == LaunchContext.ROLE_ADMIN:
        return _course_setup(request, launch)
    if launch.role == LaunchContext.ROLE_INSTRUCTOR:
        if not course_has_badge(course=launch.course_required):
            return _no_badge(request, launch)
        dashboard = _instructor_dashboard_url(launch)
        if dashboard:
            return redirect(dashboard)
        return _course_setup(request, launch)
    version = page_cache.learner_page_version(course_id=launch.course_id_required, person_id=launch.person_id)
    # Synced less than BADGING_STALE_AFTER_MINUTES ago (read with the page's digest): the check
    # would find nothing to do, so most views skip its two queries.
    synced = version.last_synced_at if version is not None else None
    if synced is None or timezone.now() - synced >= timedelta(minutes=settings.BADGING_STALE_AFTER_MINUTES):
        _sync_if_stale(course_id=launch.course_id_required)
    html_key = _page_html_key(request, launch, version)
    if html_key is not None:
        html = _cache_get(html_key)
        if isinstance(html, bytes):
            return HttpResponse(html)
    page = page_cache.learner_page_cached(launch=launch, request=request, version=version)
    if not page.badges:
        response = _no_badge(request, launch)
    else:
        response = render(
            request,
            "badging/learner/page.html",
            {
                "launch": launch,
                "page": page,
                "share_token": share_form_token(launch),
                "wallet_token": launch_form_token(launch=launch, purpose="learner.wallet"),
                "shared": request.GET.get("shared"),
            },
        )
    if html_key is not None and response.status_code == 200:
        try:
            cache.set(html_key, response.content, page_cache.LEARNER_PAGE_CACHE_SECONDS)
        except Exception:
            logger.warning("learner page not cached", exc_info=True)
    return response


def _page_html_key(request, launch: LaunchContext, version) -> str | None:
    """The rendered page is kept for this launch while its rows are unchanged and its "last updated
    … ago" reads the same; never for a request with a query (a notice after a save)."""
    if version is None or request.GET:
        return None
    ago_text = ago(version.last_synced_at) if version.last_synced_at else ""
    ago_digest = hashlib.sha256(ago_text.encode()).hexdigest()[:12]
    return page_cache.learner_page_cache_key(launch=launch, request=request, version=version, kind="html") + ago_digest


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # the cache is down: build the page
        logger.warning("learner page cache unreadable", exc_info=True)
        return None


def _no_badge(request, launch: LaunchContext):
    # No course badge, no sync: there is no "last updated" to show here.
    return render(request, "badging/learner/no_badge.html", {"launch": launch})


def _course_setup(request, launch: LaunchContext):
    setup = course_setup(course=launch.course_required)
    return render(
        request,
        "badging/launch_home.html",
        {
            "launch": launch,
            "setup": setup,
            "is_admin": launch.role == LaunchContext.ROLE_ADMIN,
            "dashboard_url": _instructor_dashboard_url(launch) if setup.course_badges else None,
            "admin_course_badges_url": reverse("admin:badging_coursebadge_changelist")
            + f"?course__id__exact={launch.course_id}",
            "admin_add_course_badge_url": reverse("admin:badging_coursebadge_add") + f"?course={launch.course_id}",
            "admin_platform_url": reverse("admin:lti_platform_change", args=[launch.platform_id]),
            "admin_sync_runs_url": reverse("admin:badging_syncrun_changelist")
            + f"?course__id__exact={launch.course_id}",
        },
    )


def _refused(request, status: int, message: str):
    return render(
        request,
        "lti/error.html",
        {"title": _("Not saved"), "message": message, "advice": _("Click Badges in your Canvas course menu again.")},
        status=status,
    )


@csrf_exempt  # protected by share_form_token (see launch_form_token) and the Origin check
@require_POST
@launch_context_required
def award_share(request, launch: LaunchContext, award_public_id: str):
    if not request_from_this_site(request):
        return _refused(request, 403, _("This request came from another site, so it was refused."))
    if not constant_time_compare(request.POST.get("token", ""), share_form_token(launch)):
        return _refused(request, 403, _("This form is no longer valid."))
    if launch.concluded:
        return _refused(request, 403, _("Your enrollment in this course has concluded: this page is read-only."))
    choice = request.POST.get("show_name")
    if choice not in ("yes", "no"):
        return _refused(request, 400, _("Choose whether to show your name, then save."))
    try:
        award_share_set(award_public_id=award_public_id, learner=launch.person, show_name=choice == "yes")
    except AwardNotYours:
        raise Http404("No such award")
    return redirect(
        reverse("badging:launch_home", args=[launch.public_id]) + f"?shared={choice}#award-{award_public_id}"
    )


urlpatterns = [
    path("l/<str:launch_id>/", launch_home, name="launch_home"),
    path("l/<str:launch_id>/awards/<str:award_public_id>/share/", award_share, name="learner_award_share"),
]
