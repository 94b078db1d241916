"""Where a launch lands (/l/<launch_id>/): the learner page, or routing by role.

Views only translate: they read through badging.selectors.learner (cached, course_setup) and write through
badging.services.sharing. A page view never calls Canvas; it may ask for a background sync.
"""

import copy
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.html import conditional_escape
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


def wallet_form_token(launch: LaunchContext) -> str:
    """The "add to a wallet" form's anti-forgery token, bound to this launch."""
    return launch_form_token(launch=launch, purpose="learner.wallet")


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
    synced_ago = ago(version.last_synced_at) if version is not None and version.last_synced_at else ""
    html_key = _page_html_key(request, launch, version)
    if html_key is not None:
        kept = _cache_get(html_key)
        if isinstance(kept, RenderedPage):
            return HttpResponse(kept.for_launch(launch, synced_ago=synced_ago))
    page = page_cache.learner_page_built(launch=launch, request=request, version=version)
    if html_key is None:
        return _page_render(request, launch, page, synced_ago=ago(page.last_synced_at))
    # Rendered once for all of this learner's launches: slots stand where each launch's own parts go.
    slots = _Slots.new(launch)
    response = _page_render(request, slots.launch, page, synced_ago=slots.synced_ago)
    if response.status_code != 200:
        return response
    kept = RenderedPage(html=response.content.decode(), slots=slots.values())
    try:
        cache.set(html_key, kept, page_cache.LEARNER_PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("learner page not cached", exc_info=True)
    return HttpResponse(kept.for_launch(launch, synced_ago=synced_ago))


def _page_render(request, launch: LaunchContext, page, *, synced_ago: str):
    if not page.badges:
        return _no_badge(request, launch)
    return render(
        request,
        "badging/learner/page.html",
        {
            "launch": launch,
            "page": page,
            "synced_ago": synced_ago,
            "share_token": share_form_token(launch),
            "wallet_token": wallet_form_token(launch),
            "shared": request.GET.get("shared"),
        },
    )


@dataclass(frozen=True)
class _Slots:
    """Stand-ins for what differs between a learner's launches: the launch id (in every link and
    form), the form tokens derived from it, and the "… ago" words, which change by themselves.
    Random per render, so no text on the page (a course or badge name) can be mistaken for one."""

    launch: LaunchContext
    synced_ago: str

    @classmethod
    def new(cls, real: LaunchContext) -> "_Slots":
        stand_in = copy.copy(real)
        stand_in.public_id = "slot" + secrets.token_hex(16)
        return cls(launch=stand_in, synced_ago="slot" + secrets.token_hex(16))

    def values(self) -> tuple[str, str, str, str]:
        return (self.launch.public_id, share_form_token(self.launch), wallet_form_token(self.launch), self.synced_ago)


@dataclass(frozen=True)
class RenderedPage:
    """A learner's page as kept in the cache: rendered once with slots (see _Slots), filled in for
    each launch as it is served: a learner launches again each time they click Badges in Canvas."""

    html: str
    slots: tuple[str, str, str, str]  # launch id, share token, wallet token, "… ago"

    def for_launch(self, launch: LaunchContext, *, synced_ago: str) -> bytes:
        launch_id, share, wallet, ago_words = self.slots
        html = self.html.replace(launch_id, launch.public_id)
        html = html.replace(share, share_form_token(launch)).replace(wallet, wallet_form_token(launch))
        return html.replace(ago_words, conditional_escape(synced_ago)).encode()


def _page_html_key(request, launch: LaunchContext, version) -> str | None:
    """The rendered page is kept while its rows are unchanged (for every launch of this learner in
    this course, see RenderedPage); never for a request with a query (a notice after a save)."""
    if version is None or request.GET:
        return None
    return page_cache.learner_page_cache_key(launch=launch, request=request, version=version)


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
