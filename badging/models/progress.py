"""Where each learner stands on a course badge (LearnerProgress): the evaluation's output, plus
the bookkeeping of issuing it."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from badging.models.badges import CourseBadge
from badging.states import IssueStatus, LearnerState, display_state, issue_failed
from lti.models import Person


class LearnerProgress(models.Model):
    """A learner's standing on one course badge: the evaluation's output, plus issuance bookkeeping."""

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

    course_badge = models.ForeignKey(
        CourseBadge, on_delete=models.CASCADE, related_name="progress", verbose_name=_("course badge")
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
