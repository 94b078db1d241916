"""Issuing awards exactly once, in batches.

Guarantees:
- At most one live award per badge class and learner: the partial unique constraint
  `badging_award_one_live` decides, so racing workers, retried tasks and duplicate events end
  with the same single award (the loser of the race returns the winner's award).
- Nothing is lost: a worker issuing a batch holds a lease on its learners in the database
  (issue_claim, renewed while it works); once the lease runs out (the worker was killed) the
  reconciler (badging.services.issuance.queueing) queues them again.
- Failures are recorded per learner (issue_status/issue_error/issue_next_attempt_at), retried
  with capped exponential backoff, and never undo an award already issued.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from badging.models import (
    Award,
    CanvasCredentialsConnection,
    CourseBadge,
    Delivery,
    LearnerProgress,
)
from badging.openbadges import baking
from badging.openbadges.links import PublicLinks, public_base_url
from badging.services.issuance.bulk_rows import awards_insert, images_insert
from badging.services.issuance.documents import _documents_build_json, _evidence_narrative, status_slots_free
from badging.services.issuance.issuer_keys import SigningKeys, issuer_keys_current
from badging.services.issuance.policy import (
    PERMANENT_FAILURE_RETRY,
    IssueFailure,
    LeaseRenewer,
    lease_length,
    queued_stale_after,
    retry_delay,
)
from badging.services.issuance.queueing import _enqueue_deliveries
from badging.services.issuance.recipients import _emails_read
from badging.services.programs import programs_reevaluate_later

if TYPE_CHECKING:  # imported where used at run time (the Canvas client loads requests' adapters)
    from canvas.client import CanvasClient

logger = logging.getLogger(__name__)


def _record_failure(progress: LearnerProgress, failure: IssueFailure) -> None:
    attempts = progress.issue_attempts + 1
    delay = PERMANENT_FAILURE_RETRY if failure.permanent else retry_delay(attempts)
    LearnerProgress.objects.filter(pk=progress.pk).record_issue_failure(
        attempts=attempts, error=str(failure)[:2000], retry_at=timezone.now() + delay
    )
    logger.warning("award issue failed for progress %s (attempt %s): %s", progress.pk, attempts, failure)


def _mark_issued(progress_ids: list[int]) -> None:
    if progress_ids:
        LearnerProgress.objects.filter(pk__in=progress_ids).mark_issued()


def _live_awards(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Award]:
    """Live awards by (badge class id, learner id), without their documents."""
    if not pairs:
        return {}
    # Found by learner only (a learner holds a few awards), the badge class checked below: with the
    # badge class in the query PostgreSQL may read every award of the class through its index.
    found = Award.objects.filter(revoked=False, learner_id__in={learner for _, learner in pairs}).defer(
        "ob3_credential", "ob3_jwt"
    )
    return {(a.badge_class_id, a.learner_id): a for a in found if (a.badge_class_id, a.learner_id) in pairs}


@dataclass
class _Candidate:
    progress: LearnerProgress
    award: Award
    images: dict[str, bytes]
    kinds: list[str]
    credential_json: str | None = None  # award.ob3_credential as JSON, when signed


def _key(progress: LearnerProgress) -> tuple[int, int]:
    return (progress.course_badge.badge_class_id, progress.learner_id)


def awards_issue_batch(
    *,
    progress_ids: Iterable[int],
    client: CanvasClient | None = None,
    links: PublicLinks | None = None,
    claim: str = "",
    send_emails: bool = False,
) -> list[Award]:
    """Issue the awards of a batch of learners (one task's worth); exactly once per learner.

    Returns the live awards of the batch's learners (new or already existing). Learners no longer
    eligible are skipped; failures (Canvas, email, badge image) are recorded per learner and
    retried later. Emails are read from Canvas concurrently, documents are signed and baked
    outside the transaction, and the rows are written in a few bulk statements; the partial
    unique constraint decides every race (INSERT … ON CONFLICT DO NOTHING, then re-read).

    The learners are leased to this run first (see _claim). `claim` names the run (the task's id):
    the same task run again after its worker died takes its own lease over at once.

    The new awards' deliveries are queued as deliveries_send tasks after commit; with send_emails
    their emails are sent here instead, right after the commit (one mail server connection for the
    batch), so that a batch's emails go out as its awards land rather than behind every other
    queued batch. An email not sent then (the worker died, the mail server failed) is still a due
    Delivery row: the reconciler or its retry time sends it.
    """
    token = claim[:32] or uuid.uuid4().hex
    ids = _claim(list(progress_ids), token)
    if not ids:
        return []
    renewer = LeaseRenewer(
        f"issuing {token}",
        # By primary key first: the claim column has no index, and a scan of every learner's row per
        # batch grows with the installation.
        lambda until: LearnerProgress.objects.filter(pk__in=ids).renew_lease(token=token, until=until),
    )
    renewer.start_unless_in_transaction()
    email_deliveries: list[Delivery] = []
    try:
        awards = _issue_claimed(
            ids, client=client, links=links, email_deliveries=email_deliveries if send_emails else None
        )
    finally:
        renewer.done.set()
        # Left claimed only if issuing raised: due again at once (the reconciler's next run), not at lease end.
        LearnerProgress.objects.filter(pk__in=ids).release_lease(token=token)
    if email_deliveries:
        _emails_send(email_deliveries)
    return awards


def _emails_send(deliveries: list[Delivery]) -> None:
    from badging.services import notifications

    try:
        notifications.deliveries_send_issued(deliveries=deliveries)
    except Exception:  # the awards are issued; their due Delivery rows are the reconciler's
        logger.exception("sending the emails of an issued batch failed; the reconciler sends them")


def _claim(progress_ids: list[int], token: str) -> list[int]:
    """Lease the batch's eligible learners to this run (committed at once, so the lease is visible
    to the reconciler): those another worker is issuing under a live lease are left to it. Returns
    the rows this run looks at: the ones it leased, and the ones not eligible (nothing to issue)."""
    now = timezone.now()
    with transaction.atomic():
        if db_connection.vendor == "postgresql":
            # The lease needs no flush to disk before going on (visible to others at commit all the
            # same): lost in a database crash, it was only a lease; the learners are queued again as
            # when a lease runs out. The award's own commit flushes it along anyway.
            with db_connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        rows = list(
            LearnerProgress.objects.select_for_update(of=("self",))
            .filter(pk__in=progress_ids)
            .order_by("pk")  # one lock order for every batch: overlapping batches never deadlock
            .values_list("pk", "state", "issue_status", "issue_next_attempt_at", "issue_claim")
        )
        leased_elsewhere = {
            pk
            for pk, state, status, until, claim in rows
            if state == LearnerProgress.ELIGIBLE
            and status == LearnerProgress.ISSUE_ISSUING
            and until is not None
            and until > now
            and claim != token
        }
        mine = [pk for pk, state, *_ in rows if state == LearnerProgress.ELIGIBLE and pk not in leased_elsewhere]
        if mine:
            LearnerProgress.objects.filter(pk__in=mine).lease_for_issuing(
                token=token, now=now, until=now + lease_length()
            )
    return [pk for pk, *_ in rows if pk not in leased_elsewhere]


def _issue_claimed(
    progress_ids: list[int], *, client, links: PublicLinks | None, email_deliveries: list[Delivery] | None
) -> list[Award]:
    # Without the evaluation detail (a few KB of JSON per learner, read and parsed for nothing here).
    rows = list(
        LearnerProgress.objects.filter(pk__in=progress_ids).select_related("learner").defer("detail").order_by("pk")
    )
    if not rows:
        return []
    # A batch's learners share a course badge or a few: read once each (with badge class, image,
    # issuer, course and platform), not once per learner as select_related would build and send them.
    course_badges = CourseBadge.objects.select_related("badge_class__issuer", "course__platform").in_bulk(
        {p.course_badge_id for p in rows}
    )
    rows = [p for p in rows if p.course_badge_id in course_badges]  # one deleted meanwhile: nothing to issue
    for progress in rows:
        progress.course_badge = course_badges[progress.course_badge_id]
    live = _live_awards({_key(p) for p in rows})
    result: dict[tuple[int, int], Award] = {}
    to_issue, already, not_eligible, deactivated, elsewhere, seen = [], [], [], [], [], set()
    for progress in rows:
        key = _key(progress)
        if key in live and live[key].course_badge_id != progress.course_badge_id:
            # Held through another course's badge: never issued twice, and never shown here as this
            # course's award (its email, links and dates belong to the other course).
            elsewhere.append(progress.pk)
        elif progress.state == LearnerProgress.ISSUED and key in live:
            result[key] = live[key]
        elif progress.state != LearnerProgress.ELIGIBLE:
            not_eligible.append(progress.pk)  # re-evaluated while queued: nothing to issue or retry
        elif not progress.course_badge.active:
            deactivated.append(progress.pk)  # the badge was switched off after this batch was queued
        elif key in live:
            already.append(progress.pk)
            result[key] = live[key]
        elif key in seen:
            elsewhere.append(progress.pk)  # the same badge class from two courses: issued once below
        else:
            seen.add(key)
            to_issue.append(progress)
    if not_eligible:
        LearnerProgress.objects.filter(pk__in=not_eligible).stop_issuing_not_eligible()
    if elsewhere:
        LearnerProgress.objects.filter(pk__in=elsewhere).mark_held_elsewhere()
    if deactivated:
        LearnerProgress.objects.filter(pk__in=deactivated).stop_issuing_badge_off()
    if to_issue:
        for award in _issue(to_issue, client=client, links=links, email_deliveries=email_deliveries):
            result[(award.badge_class_id, award.learner_id)] = award
    # Learners whose badge class was issued to them (now, or before) through another row.
    key_of = {p.pk: _key(p) for p in rows}
    _mark_issued([pk for pk in already if key_of[pk] in result])
    return [result[_key(p)] for p in rows if _key(p) in result and p.pk not in not_eligible]


def _issue(
    rows: list[LearnerProgress], *, client, links: PublicLinks | None, email_deliveries: list[Delivery] | None
) -> list[Award]:
    emails = _emails_read(rows, client=client)
    base = links.base if links else public_base_url()
    now = timezone.now().replace(microsecond=0)
    signing_by_issuer: dict[int, SigningKeys] = {}
    narrative_by_course_badge: dict[int, str] = {}
    kinds_by_issuer: dict[int, dict] = {}
    candidates: list[_Candidate] = []
    slots = iter(status_slots_free(len(rows)) if base else ())
    for progress in rows:
        email = emails[progress.pk]
        if isinstance(email, IssueFailure):
            _record_failure(progress, email)
            continue
        course_badge = progress.course_badge
        badge_class = course_badge.badge_class
        if course_badge.pk not in narrative_by_course_badge:
            narrative_by_course_badge[course_badge.pk] = _evidence_narrative(course_badge)
        award = Award(
            badge_class=badge_class,
            course_badge=course_badge,
            learner=progress.learner,
            recipient_email=email,
            issued_on=now,
            expires=now + timedelta(days=badge_class.valid_for_days) if badge_class.valid_for_days else None,
            evidence_narrative=narrative_by_course_badge[course_badge.pk],
        )
        images: dict[str, bytes] = {}
        credential_json = None
        if base:
            issuer = badge_class.issuer
            if issuer.pk not in signing_by_issuer:
                signing_by_issuer[issuer.pk] = issuer_keys_current(issuer=issuer)
            award.status_list_index = next(slots)
            try:
                award.ob3_credential, credential_json, award.ob3_jwt, images = _documents_build_json(
                    award, PublicLinks(base), signing_by_issuer[issuer.pk]
                )
            except baking.BakingError as exc:
                _record_failure(
                    progress,
                    IssueFailure(
                        f"The badge image of “{badge_class.name}” cannot carry a badge: {exc}. An admin must upload "
                        "a valid PNG or SVG image.",
                        permanent=True,
                    ),
                )
                continue
        if badge_class.issuer_id not in kinds_by_issuer:
            connection = CanvasCredentialsConnection.objects.filter(
                issuer_id=badge_class.issuer_id, enabled=True
            ).first()
            kinds_by_issuer[badge_class.issuer_id] = connection.badge_class_entity_ids if connection else {}
        kinds = [Delivery.KIND_EMAIL]
        if kinds_by_issuer[badge_class.issuer_id].get(badge_class.key):
            kinds.append(Delivery.KIND_CANVAS_CREDENTIALS)
        candidates.append(
            _Candidate(progress=progress, award=award, images=images, kinds=kinds, credential_json=credential_json)
        )

    def rebuild(candidate: _Candidate) -> None:
        if base:
            issuer_pk = candidate.award.badge_class.issuer_id
            award, signing = candidate.award, signing_by_issuer[issuer_pk]
            award.ob3_credential, candidate.credential_json, award.ob3_jwt, candidate.images = _documents_build_json(
                award, PublicLinks(base), signing
            )

    return _store(candidates, now=now, rebuild=rebuild, email_deliveries=email_deliveries)


def _same_course_badge(candidate: _Candidate, others: dict[tuple[int, int], Award]) -> bool:
    return others[_key(candidate.progress)].course_badge_id == candidate.progress.course_badge_id


def _store(
    candidates: list[_Candidate], *, now, rebuild, email_deliveries: list[Delivery] | None = None
) -> list[Award]:
    """Insert the candidates' awards (and images, deliveries, progress) in one transaction per round.

    A candidate not inserted either lost the race for its learner (another worker's award is
    returned) or drew a status list slot already in use: it is re-signed with a new slot and
    tried again, a few rounds at most. With `email_deliveries`, the email deliveries are added to it instead
    of being queued (the caller sends them after the commit, their awards in memory).
    """
    issued: list[Award] = []
    for round_number in range(4):
        if not candidates:
            break
        with transaction.atomic():
            stored = awards_insert([(c.award, c.credential_json) for c in candidates])
            winners = [c for c in candidates if c.award.public_id in stored]
            for c in winners:
                c.award.pk = stored[c.award.public_id]
                c.award._state.adding = False
            losers = [c for c in candidates if c.award.public_id not in stored]
            others = _live_awards({_key(c.progress) for c in losers})
            images_insert([(c.award.pk, ct, data) for c in winners for ct, data in c.images.items()])
            # A race lost to this course badge's own award (a retried task) is issued; one lost to
            # another course's award of the same badge class is held from there, never shown as ours.
            same = [c for c in losers if _key(c.progress) in others and _same_course_badge(c, others)]
            elsewhere = [c for c in losers if _key(c.progress) in others and not _same_course_badge(c, others)]
            _mark_issued([c.progress.pk for c in winners] + [c.progress.pk for c in same])
            if elsewhere:
                LearnerProgress.objects.filter(pk__in=[c.progress.pk for c in elsewhere]).mark_held_elsewhere()
            deliveries = Delivery.objects.bulk_create(
                [
                    Delivery(award=c.award, kind=kind, next_attempt_at=timezone.now() + queued_stale_after())
                    for c in winners
                    for kind in c.kinds
                ]
            )
            if email_deliveries is not None:
                email_deliveries += [d for d in deliveries if d.kind == Delivery.KIND_EMAIL]
                deliveries = [d for d in deliveries if d.kind != Delivery.KIND_EMAIL]
            delivery_ids = [d.pk for d in deliveries]
            if delivery_ids:
                transaction.on_commit(partial(_enqueue_deliveries, delivery_ids))
            # Program badges build on course badges: evaluated in a task after the commit.
            programs_reevaluate_later(learner_ids=[c.award.learner_id for c in winners])
        issued += [c.award for c in winners] + [others[_key(c.progress)] for c in same]
        # Neither ours nor another worker's award: the random status slot collided.
        candidates = [c for c in losers if _key(c.progress) not in others]
        if round_number < 3:
            for c, slot in zip(candidates, status_slots_free(len(candidates), recount=True), strict=True):
                c.award.status_list_index = slot
                rebuild(c)
    for c in candidates:
        _record_failure(c.progress, IssueFailure("No free revocation status slot after several tries; retrying later."))
    return issued


def award_issue(
    *, progress_id: int, client: CanvasClient | None = None, links: PublicLinks | None = None, claim: str = ""
) -> Award | None:
    """Issue one learner's award if they are eligible; exactly once (see awards_issue_batch).

    Returns the award (new, or the live one that already existed), or None when the learner is
    not eligible (any more) or issuing failed (recorded on the LearnerProgress, retried later).
    """
    awards = awards_issue_batch(progress_ids=[progress_id], client=client, links=links, claim=claim)
    return awards[0] if awards else None
