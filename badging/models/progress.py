"""Where each learner stands on a course badge (LearnerProgress): the evaluation's output, plus
the bookkeeping of issuing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from badging.models.badges import CourseBadge
from badging.states import IssueStatus, LearnerState, display_state, issue_failed, issue_failed_q
from lti.models import Person
from skillsforward.bulk_upsert import rows_upsert

# The columns the evaluation owns: it rewrites them whole on every run.
EVALUATION_FIELDS = ["state", "mastered_count", "assessment_count", "final_grade_entered", "detail", "evaluated_at"]


class LearnerProgressQuerySet(models.QuerySet["LearnerProgress"]):
    """Every change of a learner's progress, one method per transition: one UPDATE of the rows
    selected so far (the callers narrow them: by pk, by batch, by course badge), or for the
    evaluation one INSERT … ON CONFLICT per batch."""

    def save_evaluations(self, rows: Sequence[tuple], *, batch_size: int) -> None:
        """The evaluation's verdict: insert the learners' rows or overwrite their evaluation columns.
        Each row is (course badge pk, learner pk, then the EVALUATION_FIELDS in their order)."""
        self._for_write = True  # self.db is then the database written to, as in bulk_create
        rows_upsert(
            self.model,
            fields=["course_badge_id", "learner_id", *EVALUATION_FIELDS],
            rows=rows,
            batch_size=batch_size,
            unique_fields=["course_badge", "learner"],
            update_fields=EVALUATION_FIELDS,
            using=self.db,
        )

    def queue_for_issuing(self, *, until: datetime) -> int:
        """Queued for a worker; queued again by the reconciler if no worker took it by `until`."""
        return self.update(issue_status=IssueStatus.QUEUED, issue_next_attempt_at=until)

    def make_queued_due(self, *, now: datetime) -> int:
        """Queued learners whose task message may be lost (the broker lost its data): due again now."""
        return self.filter(
            state=LearnerState.ELIGIBLE, issue_status=IssueStatus.QUEUED, issue_next_attempt_at__gt=now
        ).update(issue_next_attempt_at=now)

    def retry_failed_now(self) -> int:
        """Learners whose issuing failed skip the rest of their backoff (an instructor's "retry now")."""
        return self.filter(issue_failed_q()).update(issue_next_attempt_at=None)

    def lease_for_issuing(self, *, token: str, now: datetime, until: datetime) -> int:
        """Being issued by the worker run `token`, whose lease runs out at `until` unless renewed."""
        return self.update(
            issue_status=IssueStatus.ISSUING, issue_claim=token, issue_claimed_at=now, issue_next_attempt_at=until
        )

    def renew_lease(self, *, token: str, until: datetime) -> int:
        """The worker run `token` is still issuing its learners: its lease now runs out at `until`."""
        return self.filter(issue_claim=token, issue_status=IssueStatus.ISSUING).update(issue_next_attempt_at=until)

    def release_lease(self, *, token: str) -> int:
        """The worker run `token` stopped without finishing its learners: queued again, due at once."""
        return self.filter(issue_claim=token, issue_status=IssueStatus.ISSUING).update(
            issue_status=IssueStatus.QUEUED, issue_next_attempt_at=timezone.now()
        )

    def record_issue_failure(self, *, attempts: int, error: str, retry_at: datetime) -> int:
        """Issuing an eligible learner's award failed: the reason is shown, and it is retried at `retry_at`."""
        return self.filter(state=LearnerState.ELIGIBLE).update(
            issue_status=IssueStatus.FAILED,
            issue_attempts=attempts,
            issue_error=error,
            issue_next_attempt_at=retry_at,
        )

    def mark_issued(self) -> int:
        """The learner holds this course badge's live award: nothing left to issue or retry."""
        return self.update(
            state=LearnerState.ISSUED, issue_status=IssueStatus.NONE, issue_error="", issue_next_attempt_at=None
        )

    def mark_held_elsewhere(self) -> int:
        """The learner holds the same badge class through another course's badge: not issued here."""
        return self.update(state=LearnerState.HELD_ELSEWHERE, issue_status=IssueStatus.NONE, issue_next_attempt_at=None)

    def mark_revoked(self) -> int:
        """The learner's award was revoked: not issued again by the evaluation or the reconciler."""
        return self.update(state=LearnerState.REVOKED, issue_status=IssueStatus.NONE, issue_next_attempt_at=None)

    def stop_issuing_not_eligible(self) -> int:
        """Re-evaluated not eligible while queued: nothing to issue or retry (eligible rows are left)."""
        return self.exclude(state=LearnerState.ELIGIBLE).update(
            issue_status=IssueStatus.NONE, issue_next_attempt_at=None
        )

    def stop_issuing_badge_off(self) -> int:
        """The course badge was switched off while these learners were queued: not issued, not retried."""
        return self.update(issue_status=IssueStatus.NONE, issue_next_attempt_at=None)


class LearnerProgress(models.Model):
    """A learner's standing on one course badge: the evaluation's output, plus issuance bookkeeping.

    Rows change only through LearnerProgressQuerySet's transitions. The evaluation
    (badging.services.sync.progress, save_evaluations) writes the EVALUATION_FIELDS; issuance
    (badging.services.issuance: queueing, issue) writes the issue_* columns, and the state when it
    issues (ISSUED) or finds the badge held elsewhere (HELD_ELSEWHERE); review (revoking) sets
    REVOKED; the reconciler (badging.services.reconcile) moves issue_next_attempt_at only.
    """

    # The states and issue statuses are defined once, in badging.states; these names are kept
    # because every module says LearnerProgress.ISSUED.
    NOT_STARTED = LearnerState.NOT_STARTED
    IN_PROGRESS = LearnerState.IN_PROGRESS
    AWAITING_FINAL_GRADE = LearnerState.AWAITING_FINAL_GRADE
    ELIGIBLE = LearnerState.ELIGIBLE
    ISSUED = LearnerState.ISSUED
    NOT_EARNED = LearnerState.NOT_EARNED
    REVOKED = LearnerState.REVOKED
    INELIGIBLE = LearnerState.INELIGIBLE
    HELD_ELSEWHERE = LearnerState.HELD_ELSEWHERE

    ISSUE_NONE = IssueStatus.NONE
    ISSUE_QUEUED = IssueStatus.QUEUED
    ISSUE_ISSUING = IssueStatus.ISSUING
    ISSUE_FAILED = IssueStatus.FAILED

    # Indexed by the unique (course_badge, learner) and by (course_badge, state): its own index
    # only slowed the sync's writes.
    course_badge = models.ForeignKey(
        CourseBadge, on_delete=models.CASCADE, related_name="progress", verbose_name=_("course badge"), db_index=False
    )
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="badge_progress", verbose_name=_("learner")
    )
    state = models.CharField(_("state"), max_length=30, choices=LearnerState.choices, default=NOT_STARTED)
    mastered_count = models.PositiveIntegerField(_("mastered count"), default=0)
    assessment_count = models.PositiveIntegerField(_("assessment count"), default=0)
    final_grade_entered = models.BooleanField(_("final grade entered"), default=False)
    # Evaluation detail: per assessment and for the final grade, in plain words (the "why not issued?").
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)
    issue_status = models.CharField(
        _("issue status"), max_length=10, choices=IssueStatus.choices, default=ISSUE_NONE, blank=True
    )
    issue_attempts = models.PositiveIntegerField(_("issue attempts"), default=0)
    issue_error = models.TextField(_("issue error"), blank=True)
    # Queued: when to queue again if no worker took it; being issued: when the worker's lease runs
    # out (it renews it while working); failed: when to retry. The reconciler takes every row past it.
    issue_next_attempt_at = models.DateTimeField(_("issue next attempt at"), null=True, blank=True)
    # The lease of the worker issuing this learner now (a token per batch run), and since when.
    # db_default: the previous release's workers insert rows without this column (README, online migrations).
    issue_claim = models.CharField(_("issue claim"), max_length=32, blank=True, default="", db_default="")
    issue_claimed_at = models.DateTimeField(_("issue claimed at"), null=True, blank=True)

    objects = LearnerProgressQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course_badge", "learner"], name="badging_progress_unique")]
        indexes = [
            models.Index(fields=["course_badge", "state"], name="badging_progress_state_idx"),
        ]
        verbose_name = _("learner progress")
        verbose_name_plural = _("learner progress")

    @property
    def issue_failed(self) -> bool:
        return issue_failed(state=self.state, issue_status=self.issue_status)

    @property
    def display_state(self) -> str:
        return display_state(state=self.state, issue_status=self.issue_status)
