"""The recipient of an award: each learner's primary email for a batch being issued, read fresh
from Canvas when the stored one is stale, normalised and validated (a bad one is an IssueFailure
shown to instructors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from badging.models import (
    LearnerProgress,
)
from badging.openbadges import ob2
from badging.services.issuance.policy import IssueFailure

if TYPE_CHECKING:  # imported where used at run time (the Canvas client loads requests' adapters)
    from canvas.client import CanvasClient


def _email_checked(email: str) -> str:
    """The address normalised (trim, lowercase) and validated; raises IssueFailure."""
    email = ob2.normalise_email(email)
    if not email:
        raise IssueFailure("The learner has no primary email address in Canvas.")
    try:
        validate_email(email)
    except ValidationError:
        raise IssueFailure(f"The learner's primary email in Canvas is not a valid address: {email!r}.")
    return email


def _email_fetch(client, learner) -> str:
    """One learner's primary Canvas email, read now (profile, else active channel); raises IssueFailure."""
    from canvas.errors import CanvasError

    if client is None:
        raise IssueFailure("Canvas is not configured for this platform (API address or token missing).")
    try:
        email = client.get_user_primary_email(learner.canvas_user_id)
    except CanvasError as exc:
        raise IssueFailure(f"Could not read the learner's email from Canvas: {exc}") from exc
    checked = _email_checked(email)
    type(learner).objects.filter(pk=learner.pk).update(email=checked, email_read_at=timezone.now())
    return checked


def _client_for(platform, clients: dict):
    from canvas.client import CanvasClient
    from canvas.errors import CanvasError

    if platform.pk not in clients:
        try:
            clients[platform.pk] = CanvasClient(platform, max_retries=2)
        except CanvasError:
            clients[platform.pk] = None
    return clients[platform.pk]


def _emails_read(rows: list[LearnerProgress], client: CanvasClient | None = None) -> dict[int, str | IssueFailure]:
    """Primary emails of the batch's learners (badging.services.emails). A fresh one (read from
    Canvas less than BADGING_EMAIL_FRESH_MINUTES ago, e.g. by the roster pass) costs no request;
    stale ones are re-read from each course's users list, 100 learners per request, and stored.
    Only a learner that list does not name, or names without an email, is read on their own."""
    from badging.services.emails import email_is_fresh, primary_emails_read
    from canvas.errors import CanvasError

    now = timezone.now()
    results: dict[int, str | IssueFailure] = {}
    stale: dict[int, list[LearnerProgress]] = {}

    def check(progress: LearnerProgress, email: str) -> None:
        try:
            results[progress.pk] = _email_checked(email)
        except IssueFailure as failure:
            results[progress.pk] = failure

    for progress in rows:
        if email_is_fresh(progress.learner, now):
            check(progress, progress.learner.email)
        else:
            stale.setdefault(progress.course_badge.course_id, []).append(progress)
    clients: dict = {}
    for group in stale.values():
        course = group[0].course_badge.course
        use = client if client is not None else _client_for(course.platform, clients)
        if use is None:
            for progress in group:
                results[progress.pk] = IssueFailure(
                    "Canvas is not configured for this platform (API address or token missing)."
                )
            continue
        try:
            found = primary_emails_read(
                client=use,
                platform_id=course.platform_id,
                canvas_course_id=course.canvas_course_id,
                canvas_user_ids=[p.learner.canvas_user_id for p in group],
            )
        except CanvasError as exc:
            for progress in group:
                results[progress.pk] = IssueFailure(f"Could not read the learner's email from Canvas: {exc}")
            continue
        for progress in group:
            email = found.get(progress.learner.canvas_user_id, "")
            if email:
                check(progress, email)
                read = results[progress.pk]
                if isinstance(read, str) and read != email:  # stored as issued to: normalised
                    type(progress.learner).objects.filter(pk=progress.learner_id).update(email=read)
                continue
            try:  # not in the list (or listed without one): the profile and email channels decide
                results[progress.pk] = _email_fetch(use, progress.learner)
            except IssueFailure as failure:
                results[progress.pk] = failure
    return results
