"""Issuing awards exactly once, rendering and signing their documents, revoking them.

Guarantees:
- At most one live award per badge class and learner: the partial unique constraint
  `badging_award_one_live` decides, so racing workers, retried tasks and duplicate events end
  with the same single award (the loser of the race returns the winner's award).
- Nothing is lost: every eligible learner without an award is found again by the reconciler
  (`awards_reconcile`), also when a broker message or a worker was lost. A worker issuing a batch
  holds a lease on its learners in the database (issue_claim, renewed while it works): once the
  lease runs out (the worker was killed) the reconciler queues them again, whatever the broker did
  with the task; a queued learner no worker took within queued_stale_after() is queued again too.
- Failures are recorded per learner (issue_status/issue_error/issue_next_attempt_at), retried
  with capped exponential backoff, and never undo an award already issued.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from badging.models import (
    Assignment,
    AuditEvent,
    Award,
    AwardImage,
    CanvasCredentialsConnection,
    Delivery,
    Issuer,
    IssuerKey,
    LearnerProgress,
)
from badging.openbadges import baking, keys, ob2, ob3
from badging.openbadges.links import PublicLinks, public_base_url
from badging.rules import evidence_names
from badging.states import issue_failed_q

if TYPE_CHECKING:  # imported where used at run time (the Canvas client loads requests' adapters)
    from canvas.client import CanvasClient
from badging.services.learner_emails import award_copies_revoke
from badging.services.programs import programs_reevaluate_later

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
UNCONFIRMED_SEND = (
    "The worker stopped while sending this email, after the mail server may have taken it: the learner "
    "may receive it twice (counted in unconfirmed sends). Sending it again."
)
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
# A badge image that cannot be baked will not fix itself: retry rarely, until an admin replaces it.
PERMANENT_FAILURE_RETRY = timedelta(hours=24)

OB3_PNG = "image/png; profile=ob3"
OB3_SVG = "image/svg+xml; profile=ob3"


class IssueFailure(Exception):
    """Issuing to one learner failed for a reason worth showing to instructors and admins."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


def queued_stale_after() -> timedelta:
    """A learner or delivery queued this long ago and not picked up is queued again (lost message)."""
    return timedelta(seconds=settings.BADGING_QUEUED_STALE_AFTER_SECONDS)


def lease_length() -> timedelta:
    """How long a worker's claim on its learners (or on an email being sent) lasts unless renewed."""
    return timedelta(seconds=settings.BADGING_LEASE_SECONDS)


def retry_delay(attempts: int, *, base: timedelta = RETRY_BASE, cap: timedelta = RETRY_CAP) -> timedelta:
    """Capped exponential backoff with full jitter on the upper half (no thundering herd): after
    the first attempt between base/2 and base, doubling with each attempt, never above cap."""
    ceiling = min(base * (2 ** max(attempts - 1, 0)), cap)
    return ceiling / 2 + ceiling / 2 * random.random()


# --- Enqueueing --------------------------------------------------------------------------------


def _due_eligible(now: datetime):
    # ELIGIBLE means evaluated eligible and not yet issued; queued rows carry their stale time in
    # issue_next_attempt_at, failed rows their retry time: either way "due" is the same test.
    return LearnerProgress.objects.filter(state=LearnerProgress.ELIGIBLE, course_badge__active=True).filter(
        Q(issue_next_attempt_at__isnull=True) | Q(issue_next_attempt_at__lte=now)
    )


def _enqueue_batches(progress_ids: list[int]) -> None:
    for start in range(0, len(progress_ids), BATCH_SIZE):
        current_app.send_task("badging.award_issue_batch", args=[progress_ids[start : start + BATCH_SIZE]])


def _mark_queued_and_enqueue(queryset) -> int:
    now = timezone.now()
    with transaction.atomic():
        ids = list(queryset.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True))
        if not ids:
            return 0
        LearnerProgress.objects.filter(pk__in=ids).update(
            issue_status=LearnerProgress.ISSUE_QUEUED, issue_next_attempt_at=now + queued_stale_after()
        )
        transaction.on_commit(lambda: _enqueue_batches(ids))
    return len(ids)


def awards_enqueue_eligible(*, course_badge_id: int) -> int:
    """Queue every eligible learner of a course badge who has no award yet; returns how many.

    Learners failing with a retry time in the future, queued less than queued_stale_after() ago, or
    being issued under a live lease, are left alone. Tasks are enqueued after commit, in batches of BATCH_SIZE.
    """
    return _mark_queued_and_enqueue(_due_eligible(timezone.now()).filter(course_badge_id=course_badge_id))


def awards_retry_failed_now(*, course_badge_id: int) -> tuple[int, int]:
    """An instructor's "retry now": the learners whose issuing failed skip the rest of their backoff
    (that is for automatic retries) and are queued. Returns (how many had failed, how many queued)."""
    with transaction.atomic():
        failed = LearnerProgress.objects.filter(issue_failed_q(), course_badge_id=course_badge_id)
        failed_count = failed.update(issue_next_attempt_at=None)
        return failed_count, awards_enqueue_eligible(course_badge_id=course_badge_id)


def awards_reconcile() -> dict:
    """Find work that should have happened and enqueue it again: eligible learners without an
    award (never queued, queued too long ago, their worker's lease run out, or failed and due for a
    retry) and deliveries that are due or stuck (an email's sending lease run out). Safe to run any
    time, from any number of beat schedulers."""
    now = timezone.now()
    stale = queued_stale_after()
    queued = _mark_queued_and_enqueue(_due_eligible(now))
    with transaction.atomic():
        # An email whose sending lease ran out: its worker died between handing it to the mail server
        # and recording the answer. It may have gone out: count it, then send it again.
        Delivery.objects.filter(status=Delivery.SENDING, next_attempt_at__lte=now).update(
            status=Delivery.FAILED,
            unconfirmed_sends=F("unconfirmed_sends") + 1,
            last_error=UNCONFIRMED_SEND,
            next_attempt_at=now,
            updated_at=now,
        )
        delivery_ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .exclude(status=Delivery.SENT)
            .filter(next_attempt_at__isnull=False, next_attempt_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if delivery_ids:
            Delivery.objects.filter(pk__in=delivery_ids).update(next_attempt_at=now + stale)
            transaction.on_commit(lambda: _enqueue_deliveries(delivery_ids))
    # Revocations that never reached Canvas Credentials (its task exhausted its retries or was lost).
    unpropagated = list(
        Delivery.objects.filter(
            kind=Delivery.KIND_CANVAS_CREDENTIALS, award__revoked=True, award__revoked_at__lte=now - stale
        )
        .exclude(external_id="")
        .exclude(award__in=AuditEvent.objects.filter(action="canvas_credentials_revoked").values("award"))
        .values_list("pk", flat=True)
    )
    for delivery_id in unpropagated:
        current_app.send_task("badging.canvas_credentials_revoke", args=[delivery_id])
    return {"learners_queued": queued, "deliveries_queued": len(delivery_ids), "revocations_queued": len(unpropagated)}


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    for start in range(0, len(delivery_ids), BATCH_SIZE):
        current_app.send_task("badging.deliveries_send", args=[delivery_ids[start : start + BATCH_SIZE]])


# --- Primary email ----------------------------------------------------------------------------


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


# --- Keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKeys:
    ed25519: IssuerKey
    rsa: IssuerKey


def issuer_keys_current(*, issuer: Issuer) -> SigningKeys:
    """The issuer's current Ed25519 and RSA keys, created on first use (under the issuer's row lock
    so that two workers never create two)."""
    current = {k.algorithm: k for k in IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True)}
    if keys.ED25519 not in current or keys.RS256 not in current:
        with transaction.atomic():
            Issuer.objects.select_for_update().filter(pk=issuer.pk).first()
            current = {k.algorithm: k for k in IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True)}
            for algorithm in (keys.ED25519, keys.RS256):
                if algorithm not in current:
                    pem, jwk = keys.key_generate(algorithm)
                    current[algorithm] = IssuerKey.objects.create(
                        issuer=issuer, algorithm=algorithm, private_key_pem=pem, public_jwk=jwk
                    )
    return SigningKeys(ed25519=current[keys.ED25519], rsa=current[keys.RS256])


def issuer_key_rotate(*, issuer_id: int, actor: str = "system") -> SigningKeys:
    """New signing keys for the issuer. Old keys stay published (credentials signed with them
    still verify); only new credentials use the new keys."""
    with transaction.atomic():
        issuer = Issuer.objects.select_for_update().get(pk=issuer_id)
        IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True).update(superseded_at=timezone.now())
        AuditEvent.objects.create(actor=actor, action="issuer_keys_rotated", detail={"issuer": issuer.key})
    return issuer_keys_current(issuer=issuer)


# --- Documents ---------------------------------------------------------------------------------


def _evidence_narrative(course_badge) -> str:
    assignments = Assignment.objects.filter(course=course_badge.course).order_by("position", "name", "id")
    names = evidence_names(course_badge=course_badge, assignments=assignments)
    course_name = str(course_badge.course)
    if not names:
        return f"Mastered every credentialing assessment in {course_name} and received a final grade."
    listed = "\n".join(f"- {name}" for name in names)
    return f"Mastered every credentialing assessment in {course_name}:\n\n{listed}\n\nand received a final grade."


_index_space_size = ob3.STATUS_LIST_SIZE
_index_space_checked = 0.0


def _status_list_index() -> int:
    """A random free-looking slot in the revocation status lists (Bitstring Status List §6.1:
    random positions give herd privacy; sequential ones would leak issue order). The space
    doubles as awards grow so that it stays at most 1/16 full (a sparse list compresses to a few
    hundred bytes); a collision is caught by the unique constraint and retried with a new slot."""
    global _index_space_size, _index_space_checked
    now = time.monotonic()
    if now - _index_space_checked > 60:
        count = Award.objects.count()
        size = ob3.STATUS_LIST_SIZE
        while count * 16 > size:
            size *= 2
        _index_space_size, _index_space_checked = size, now
    return secrets.randbelow(_index_space_size)


def _documents_build(award: Award, links: PublicLinks, signing: SigningKeys) -> tuple[dict, str, dict[str, bytes]]:
    """(signed OB 3.0 credential, VC-JWT, baked images) for an award; no database access.

    Raises baking.BakingError for a badge class image that cannot carry a badge."""
    badge_class = award.badge_class
    issuer_id = badge_class.issuer.public_id
    unsigned = ob3.credential_document(award, links)
    credential = ob3.data_integrity_sign(
        unsigned,
        private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
        verification_method=links.issuer_verification_method(issuer_id, signing.ed25519.public_id),
        created=award.issued_on,
    )
    jwt = ob3.credential_jwt(
        credential,
        private_key=keys.private_key_load(signing.rsa.pk, signing.rsa.private_key_pem),
        kid=links.issuer_key(issuer_id, signing.rsa.public_id),
    )
    assertion_json = _json(ob2.assertion_document(award, links))
    credential_json = _json(credential)
    image = bytes(badge_class.image)
    if ob2.is_svg(badge_class.image_content_type):
        images = {
            "image/svg+xml": baking.bake_svg(image, assertion_json, verify_url=links.assertion(award.public_id)),
            OB3_SVG: baking.bake_svg(image, credential_json, verify_url=credential["id"], ob3=True),
        }
    else:
        images = {
            "image/png": baking.bake_png(image, assertion_json),
            OB3_PNG: baking.bake_png(image, credential_json, keyword=baking.OB3_KEYWORD),
        }
    return credential, jwt, images


def award_documents_render(*, award: Award, links: PublicLinks) -> None:
    """Sign the OB 3.0 credential (Data Integrity + VC-JWT) and bake the images of a saved award,
    storing ob3_credential, ob3_jwt, status_list_index and the AwardImage rows."""
    signing = issuer_keys_current(issuer=award.badge_class.issuer)
    for _attempt in range(5):
        if award.status_list_index is None or _attempt:
            award.status_list_index = _status_list_index()
        credential, jwt, images = _documents_build(award, links, signing)
        award.ob3_credential, award.ob3_jwt = credential, jwt
        try:
            with transaction.atomic():
                award.save(update_fields=["status_list_index", "ob3_credential", "ob3_jwt"])
        except IntegrityError:
            continue  # the random status slot was taken: pick another and sign again
        break
    else:
        raise IssueFailure("Could not find a free revocation status slot.")
    AwardImage.objects.filter(award=award).delete()
    AwardImage.objects.bulk_create([AwardImage(award=award, content_type=ct, data=d) for ct, d in images.items()])


def _json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def award_documents_ensure(*, award_id: int, base_url: str) -> Award:
    """Render the signed documents of an award issued while no PUBLIC_BASE_URL was configured
    (the first request supplies the host). Idempotent: a second call changes nothing."""
    with transaction.atomic():
        award = Award.objects.select_for_update(of=("self",)).select_related("badge_class__issuer").get(pk=award_id)
        if award.ob3_credential is None:
            award_documents_render(award=award, links=PublicLinks(base_url))
    return award


# --- Issuing -----------------------------------------------------------------------------------


def _record_failure(progress: LearnerProgress, failure: IssueFailure) -> None:
    attempts = progress.issue_attempts + 1
    delay = PERMANENT_FAILURE_RETRY if failure.permanent else retry_delay(attempts)
    LearnerProgress.objects.filter(pk=progress.pk, state=LearnerProgress.ELIGIBLE).update(
        issue_status=LearnerProgress.ISSUE_FAILED,
        issue_attempts=attempts,
        issue_error=str(failure)[:2000],
        issue_next_attempt_at=timezone.now() + delay,
    )
    logger.warning("award issue failed for progress %s (attempt %s): %s", progress.pk, attempts, failure)


def _mark_issued(progress_ids: list[int]) -> None:
    if progress_ids:
        LearnerProgress.objects.filter(pk__in=progress_ids).update(
            state=LearnerProgress.ISSUED,
            issue_status=LearnerProgress.ISSUE_NONE,
            issue_error="",
            issue_next_attempt_at=None,
        )


def _live_awards(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Award]:
    """Live awards by (badge class id, learner id), without their documents."""
    if not pairs:
        return {}
    found = Award.objects.filter(
        revoked=False,
        badge_class_id__in={b for b, _ in pairs},
        learner_id__in={learner for _, learner in pairs},
    ).defer("ob3_credential", "ob3_jwt")
    return {(a.badge_class_id, a.learner_id): a for a in found if (a.badge_class_id, a.learner_id) in pairs}


@dataclass
class _Candidate:
    progress: LearnerProgress
    award: Award
    images: dict[str, bytes]
    kinds: list[str]


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
        lambda until: LearnerProgress.objects.filter(
            issue_claim=token, issue_status=LearnerProgress.ISSUE_ISSUING
        ).update(issue_next_attempt_at=until),
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
        LearnerProgress.objects.filter(issue_claim=token, issue_status=LearnerProgress.ISSUE_ISSUING).update(
            issue_status=LearnerProgress.ISSUE_QUEUED, issue_next_attempt_at=timezone.now()
        )
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
            LearnerProgress.objects.filter(pk__in=mine).update(
                issue_status=LearnerProgress.ISSUE_ISSUING,
                issue_claim=token,
                issue_claimed_at=now,
                issue_next_attempt_at=now + lease_length(),
            )
    return [pk for pk, *_ in rows if pk not in leased_elsewhere]


class LeaseRenewer(threading.Thread):
    """Calls renew() every third of the lease until done is set, from its own database connection
    (a worker killed mid-task stops renewing: its lease runs out and the reconciler takes over)."""

    def __init__(self, name: str, renew):
        super().__init__(name=name, daemon=True)
        self.renew, self.done = renew, threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            while not self.done.wait(lease_length().total_seconds() / 3):
                try:
                    self.renew(timezone.now() + lease_length())
                except Exception:  # the database is unreachable: the lease runs out, the work is redone
                    logger.warning("could not renew the lease %s", self.name, exc_info=True)
        finally:
            connections.close_all()

    def start_unless_in_transaction(self) -> None:
        if not connection.in_atomic_block:  # a caller's open transaction hides the lease from other connections
            self.start()


def _issue_claimed(
    progress_ids: list[int], *, client, links: PublicLinks | None, email_deliveries: list[Delivery] | None
) -> list[Award]:
    rows = list(
        LearnerProgress.objects.filter(pk__in=progress_ids)
        .select_related("course_badge__badge_class__issuer", "course_badge__course__platform", "learner")
        .order_by("pk")
    )
    if not rows:
        return []
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
        LearnerProgress.objects.filter(pk__in=not_eligible).exclude(state=LearnerProgress.ELIGIBLE).update(
            issue_status=LearnerProgress.ISSUE_NONE, issue_next_attempt_at=None
        )
    if elsewhere:
        LearnerProgress.objects.filter(pk__in=elsewhere).update(
            state=LearnerProgress.HELD_ELSEWHERE, issue_status=LearnerProgress.ISSUE_NONE, issue_next_attempt_at=None
        )
    if deactivated:
        LearnerProgress.objects.filter(pk__in=deactivated).update(
            issue_status=LearnerProgress.ISSUE_NONE, issue_next_attempt_at=None
        )
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
        if base:
            issuer = badge_class.issuer
            if issuer.pk not in signing_by_issuer:
                signing_by_issuer[issuer.pk] = issuer_keys_current(issuer=issuer)
            award.status_list_index = _status_list_index()
            try:
                award.ob3_credential, award.ob3_jwt, images = _documents_build(
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
        candidates.append(_Candidate(progress=progress, award=award, images=images, kinds=kinds))

    def rebuild(candidate: _Candidate) -> None:
        if base:
            issuer_pk = candidate.award.badge_class.issuer_id
            candidate.award.ob3_credential, candidate.award.ob3_jwt, candidate.images = _documents_build(
                candidate.award, PublicLinks(base), signing_by_issuer[issuer_pk]
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
            Award.objects.bulk_create([c.award for c in candidates], ignore_conflicts=True)
            stored = dict(
                Award.objects.filter(public_id__in=[c.award.public_id for c in candidates]).values_list(
                    "public_id", "pk"
                )
            )
            winners = [c for c in candidates if c.award.public_id in stored]
            for c in winners:
                c.award.pk = stored[c.award.public_id]
                c.award._state.adding = False
            losers = [c for c in candidates if c.award.public_id not in stored]
            others = _live_awards({_key(c.progress) for c in losers})
            AwardImage.objects.bulk_create(
                [
                    AwardImage(award=c.award, content_type=ct, data=data)
                    for c in winners
                    for ct, data in c.images.items()
                ]
            )
            # A race lost to this course badge's own award (a retried task) is issued; one lost to
            # another course's award of the same badge class is held from there, never shown as ours.
            same = [c for c in losers if _key(c.progress) in others and _same_course_badge(c, others)]
            elsewhere = [c for c in losers if _key(c.progress) in others and not _same_course_badge(c, others)]
            _mark_issued([c.progress.pk for c in winners] + [c.progress.pk for c in same])
            if elsewhere:
                LearnerProgress.objects.filter(pk__in=[c.progress.pk for c in elsewhere]).update(
                    state=LearnerProgress.HELD_ELSEWHERE,
                    issue_status=LearnerProgress.ISSUE_NONE,
                    issue_next_attempt_at=None,
                )
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
            for c in candidates:
                c.award.status_list_index = _status_list_index()
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


# --- Revocation and review ---------------------------------------------------------------------


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
        LearnerProgress.objects.filter(course_badge=award.course_badge, learner_id=award.learner_id).update(
            state=LearnerProgress.REVOKED, issue_status=LearnerProgress.ISSUE_NONE, issue_next_attempt_at=None
        )
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


# --- Status list -------------------------------------------------------------------------------


STATUS_LIST_CACHE_SECONDS = 3600


def status_list_render(*, issuer: Issuer, list_number: int, links: PublicLinks) -> dict | None:
    """The issuer's signed BitstringStatusListCredential for one list (revocation bits set), or None
    when no award of the issuer is on that list.

    Always current: a revocation changes the cache key, so a cached list is never served after a
    badge on it was revoked. Signing costs milliseconds and verifiers ask often, hence the cache.
    Only lists that carry awards are signed and cached: the URL is public, and any other number
    would let an anonymous visitor make the server sign and store without bound.
    """
    from badging.selectors.awards import status_list_in_use, status_list_revoked_positions

    if not status_list_in_use(issuer=issuer, list_number=list_number):
        return None
    positions, newest = status_list_revoked_positions(issuer=issuer, list_number=list_number)
    version = f"{len(positions)}:{newest.timestamp() if newest else 0}"
    cache_key = f"badging:status-list:did:{links.base}:{issuer.public_id}:{list_number}:{version}"
    document = cache.get(cache_key)
    if document is None:
        signing = issuer_keys_current(issuer=issuer)
        list_url = links.status_list(issuer.public_id, list_number)
        valid_from = newest or issuer.created_at
        unsigned = ob3.status_list_credential(
            issuer=issuer, list_url=list_url, revoked_positions=positions, valid_from=valid_from, links=links
        )
        document = ob3.data_integrity_sign(
            unsigned,
            private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
            verification_method=links.issuer_verification_method(issuer.public_id, signing.ed25519.public_id),
            created=valid_from,
        )
        cache.set(cache_key, document, STATUS_LIST_CACHE_SECONDS)
    return document


def award_credential_for_holder(*, award: Award, holder_id: str, links: PublicLinks) -> dict:
    """The award's OB 3.0 credential bound to a wallet: credentialSubject.id is the holder's DID
    (the wallet proved it controls it), a credential id of its own, the award's status list entry
    (a revocation shows in the wallet too), signed with the issuer's current key."""
    signing = issuer_keys_current(issuer=award.badge_class.issuer)
    unsigned = ob3.credential_document(award, links)
    unsigned["id"] = f"urn:uuid:{uuid.uuid4()}"
    unsigned["credentialSubject"] = {
        "id": holder_id,
        **{k: v for k, v in unsigned["credentialSubject"].items() if k != "id"},
    }
    return ob3.data_integrity_sign(
        unsigned,
        private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
        verification_method=links.issuer_verification_method(
            award.badge_class.issuer.public_id, signing.ed25519.public_id
        ),
        created=timezone.now(),
    )
