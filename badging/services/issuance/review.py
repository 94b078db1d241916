"""Revoking an award and the review of awards whose learner no longer evaluates as eligible
(flagged for an instructor, kept or revoked by them); every decision is recorded."""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.db import transaction
from django.utils import timezone

from badging.models import (
    AuditEvent,
    Award,
    Delivery,
    LearnerProgress,
)
from badging.services.learner_emails import award_copies_revoke
from badging.services.programs import programs_reevaluate_later


def award_revoke(*, award_id: int, reason: str, actor: str) -> Award:
    """Revoke an award: the hosted assertion answers 410, the OB 3.0 status list bit is set, the
    pages say so, and Canvas Credentials is told. The reason is required and recorded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A revocation reason is required.")
    with transaction.atomic():
        award = Award.objects.select_for_update(of=("self",)).select_related("course_badge").get(pk=award_id)
        if award.revoked:
            return award
        award.revoked = True
        award.revoked_at = timezone.now()
        award.revocation_reason = reason
        award.revoked_by = actor[:300]
        award.needs_review = False
        award.save(update_fields=["revoked", "revoked_at", "revocation_reason", "revoked_by", "needs_review"])
        LearnerProgress.objects.filter(course_badge=award.course_badge, learner_id=award.learner_id).mark_revoked()
        AuditEvent.objects.create(
            actor=actor[:300],
            action="award_revoked",
            course=award.course,
            award=award,
            detail={"reason": reason},
        )
        # Copies the learner had re-issued to their other addresses go with it (My badges).
        award_copies_revoke(award=award, actor=actor)
        if award.course_badge_id is not None:
            programs_reevaluate_later(learner_ids=[award.learner_id])
        pushed = list(
            Delivery.objects.filter(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
            .exclude(external_id="")
            .values_list("pk", flat=True)
        )
        for delivery_id in pushed:
            transaction.on_commit(
                partial(current_app.send_task, "badging.canvas_credentials_revoke", args=[delivery_id])
            )
    return award


def award_flag_for_review(*, progress_id: int, reason: str) -> Award | None:
    """A learner with a live award no longer evaluates as eligible (e.g. a grade was lowered):
    flag the award for an instructor's review instead of revoking it silently. Idempotent;
    returns the flagged award, or None when the learner has no live award."""
    progress = LearnerProgress.objects.select_related("course_badge__course").filter(pk=progress_id).first()
    if progress is None:
        return None
    with transaction.atomic():
        award = (
            Award.objects.select_for_update()
            .filter(course_badge_id=progress.course_badge_id, learner_id=progress.learner_id, revoked=False)
            .first()
        )
        if award is None:
            return None
        # Same reason: still flagged for it, or already reviewed and kept for it (every sync re-evaluates
        # the learner; a kept award must not come back). A different reason is a new change to review.
        if award.review_reason != reason:
            award.needs_review = True
            award.review_reason = reason
            award.save(update_fields=["needs_review", "review_reason"])
            AuditEvent.objects.create(
                actor="system",
                action="award_flagged_for_review",
                course=progress.course_badge.course,
                award=award,
                detail={"reason": reason},
            )
    return award


def award_review_keep(*, award_id: int, actor: str, note: str = "") -> Award:
    """An instructor or admin reviewed a flagged award and keeps it: the flag is cleared and the
    decision recorded. The reason stays on the award, so re-evaluating the same situation does not
    flag it again; a further change (a different reason) does. Revoking is award_revoke."""
    with transaction.atomic():
        award = Award.objects.select_for_update(of=("self",)).select_related("course_badge__course").get(pk=award_id)
        if award.revoked or not award.needs_review:
            return award
        reason = award.review_reason
        award.needs_review = False
        award.save(update_fields=["needs_review"])
        AuditEvent.objects.create(
            actor=actor[:300],
            action="award_review_kept",
            course=award.course,
            award=award,
            detail={"flagged_because": reason, "note": note.strip()[:1000]},
        )
    return award
