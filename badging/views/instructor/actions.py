"""The instructor's confirmed actions: sync now, retry failed issuing, revoke, resend, keep a badge
marked for review. Each shows a confirm page on GET and acts on POST (access.confirmed_action)."""

from django.shortcuts import redirect
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from badging.selectors.dashboard.display_states import (
    FAILED,
    state_counts,
)
from badging.services import instructor as svc
from badging.views.instructor.access import (
    award_in_course,
    confirm_page,
    confirmed_action,
    course_badge_in_course,
    dashboard_url,
    learner_url,
    read_only_refusal,
    unavailable_page,
)


@confirmed_action("sync")
def sync_now(request, launch):
    back = dashboard_url(launch)
    if refused := read_only_refusal(request, launch, None, back):
        return refused
    if request.method == "GET":
        return confirm_page(
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
    return redirect(dashboard_url(launch, done="sync" if enqueued else "sync_queued"))


@confirmed_action("retry")
def retry_failed(request, launch, course_badge_id: int):
    course_badge = course_badge_in_course(launch, course_badge_id)
    back = dashboard_url(launch, course_badge)
    if refused := read_only_refusal(request, launch, course_badge, back):
        return refused
    if request.method == "GET":
        failed = state_counts(course_badge_ids=[course_badge.pk])[course_badge.pk][FAILED]
        return confirm_page(
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
    return redirect(dashboard_url(launch, course_badge, done="retry"))


@confirmed_action("revoke")
def revoke(request, launch, award_public_id: str):
    award = award_in_course(launch, award_public_id)
    back = learner_url(launch, award)
    if refused := read_only_refusal(request, launch, award.course_badge, back):
        return refused
    if award.revoked:
        return unavailable_page(request, launch, Exception(_("This badge is already revoked.")), back)
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
    return confirm_page(
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
    award = award_in_course(launch, award_public_id)
    back = learner_url(launch, award)
    if refused := read_only_refusal(request, launch, award.course_badge, back):
        return refused
    if request.method == "GET":
        return confirm_page(
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
        return unavailable_page(request, launch, exc, back)
    return redirect(f"{back}?done=resent")


@confirmed_action("keep")
def keep(request, launch, award_public_id: str):
    award = award_in_course(launch, award_public_id)
    back = learner_url(launch, award)
    if refused := read_only_refusal(request, launch, award.course_badge, back):
        return refused
    if request.method == "GET":
        return confirm_page(
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
        return unavailable_page(request, launch, exc, back)
    return redirect(f"{back}?done=kept")
