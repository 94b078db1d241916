"""Program badges (pathways): evaluate a learner's programs, issue or flag the program badge.

A learner holds a course badge when they hold a live (unrevoked) award of its badge class, from any
course or term of the program's Canvas instance (a Person is one Canvas user on one instance, so
awards from another Canvas never count). A program is met when all its required badge classes are
held, or at least N of them. Then the program badge is issued like any other badge: an Award with
the OB 2.0 and OB 3.0 documents, an email, and the course badges it builds on as evidence. When a
required course badge is revoked and the program is no longer met, the program badge is flagged
for review (an admin revokes it or keeps it), never revoked silently.

Issuance calls `programs_reevaluate_later` after it stores or revokes course awards: the evaluation
runs in its own task after the commit, so a program problem can never undo a course award.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from badging.models import AuditEvent, Award, Delivery, Program, ProgramProgress
from badging.openbadges.links import PublicLinks, public_base_url
from lti.models import Person

logger = logging.getLogger(__name__)

TASK = "badging.programs_evaluate"
TASK_ALL = "badging.program_evaluate_all"
BATCH_SIZE = 200


def programs_reevaluate_later(*, learner_ids: Iterable[int]) -> None:
    """After the current transaction commits, evaluate these learners' programs in a task.

    The one call issuance makes when course awards are stored or revoked. Nothing is queued when no
    program exists, so course-only installations pay one cheap query."""
    ids = sorted({int(i) for i in learner_ids})
    if not ids or not Program.objects.filter(active=True).exists():
        return
    for start in range(0, len(ids), BATCH_SIZE):
        transaction.on_commit(partial(current_app.send_task, TASK, args=[ids[start : start + BATCH_SIZE]]))


@dataclass(frozen=True)
class ProgramStanding:
    program: Program
    held: list[Award]  # live course awards that count, in requirement order
    required: int

    @property
    def met(self) -> bool:
        return self.required > 0 and len(self.held) >= self.required


def program_required_count(program: Program, requirement_count: int) -> int:
    if program.mode == Program.MODE_N_OF and program.required_count:
        return min(program.required_count, requirement_count)
    return requirement_count


def _standings(*, programs: list[Program], live: dict[int, Award]) -> list[ProgramStanding]:
    """Which required badges a learner holds, per program, from their live course awards by badge class."""
    out = []
    for program in programs:
        requirements = list(program.requirements.all())
        held = [live[r.badge_class_id] for r in requirements if r.badge_class_id in live]
        out.append(ProgramStanding(program, held, program_required_count(program, len(requirements))))
    return out


def _evidence_narrative(standing: ProgramStanding, links: PublicLinks) -> str:
    """Markdown evidence: each course badge held, linked to its hosted (verifiable) assertion."""
    lines = []
    for award in standing.held:
        course = award.course
        where = f" ({course.name or course.course_code})" if course and (course.name or course.course_code) else ""
        lines.append(f"- [{award.badge_class.name}]({links.assertion(award.public_id)}){where}")
    rule = (
        "every course badge of the program"
        if standing.program.mode == Program.MODE_ALL
        else f"{standing.required} of the program's course badges"
    )
    return f"Holds {rule}:\n\n" + "\n".join(lines)


def _issue(*, standing: ProgramStanding, learner: Person, base: str) -> Award | None:
    """The program award, its documents and its email delivery, in one transaction; None when a
    live award of the program's badge class already exists (another worker, or held already)."""
    from badging.services.issuance.documents import award_documents_render
    from badging.services.issuance.policy import queued_stale_after
    from badging.services.issuance.queueing import _enqueue_deliveries

    program = standing.program
    badge_class = program.badge_class
    links = PublicLinks(base)
    now = timezone.now().replace(microsecond=0)
    # The address the learner's newest course badge went to: the same backpack, no Canvas call.
    newest = max(standing.held, key=lambda a: (a.issued_on, a.pk))
    email = newest.recipient_email or learner.email
    if not email:
        logger.warning("program %s: no email for learner %s yet", program.key, learner.pk)
        return None
    award = Award(
        badge_class=badge_class,
        program=program,
        learner=learner,
        recipient_email=email,
        issued_on=now,
        expires=now + timedelta(days=badge_class.valid_for_days) if badge_class.valid_for_days else None,
        evidence_narrative=_evidence_narrative(standing, links),
    )
    try:
        with transaction.atomic():
            award.save()
            if base:
                award_documents_render(award=award, links=links)
            delivery = Delivery.objects.create(
                award=award, kind=Delivery.KIND_EMAIL, next_attempt_at=timezone.now() + queued_stale_after()
            )
            AuditEvent.objects.create(
                actor="system",
                action="program_award_issued",
                award=award,
                detail={"program": program.key, "evidence": [a.public_id for a in standing.held]},
            )
            transaction.on_commit(partial(_enqueue_deliveries, [delivery.pk]))
    except IntegrityError:
        return None  # badging_award_one_live: a live award of this badge class exists
    return award


def _flag(*, award: Award, standing: ProgramStanding) -> None:
    held = {a.badge_class_id for a in standing.held}
    missing = [r.badge_class.name for r in standing.program.requirements.all() if r.badge_class_id not in held]
    reason = (
        f"A required course badge was revoked: the learner now holds {len(standing.held)} of the "
        f"{standing.required} needed (missing: {', '.join(missing)})."
    )
    if award.review_reason == reason:
        return  # still flagged for it, or already reviewed and kept for it
    Award.objects.filter(pk=award.pk).update(needs_review=True, review_reason=reason)
    AuditEvent.objects.create(actor="system", action="award_flagged_for_review", award=award, detail={"reason": reason})


def learner_programs_evaluate(*, learner_id: int, base_url: str | None = None) -> list[ProgramProgress]:
    """Evaluate one learner's programs (see programs_evaluate); returns their progress rows."""
    programs_evaluate(learner_ids=[learner_id], base_url=base_url)
    return list(ProgramProgress.objects.filter(learner_id=learner_id).select_related("program"))


def programs_evaluate(*, learner_ids: Iterable[int], base_url: str | None = None) -> int:
    """Evaluate every active program of each learner's Canvas: record progress, issue the program
    badge when met, flag it for review when no longer met. Idempotent (a repeat changes nothing).

    Batched: four queries per BATCH_SIZE learners whatever the number of programs, plus the rare
    issue or flag. Returns how many learners were evaluated."""
    ids = sorted({int(i) for i in learner_ids})
    programs_by_platform: dict[int, list[Program]] = {}
    for program in (
        Program.objects.filter(active=True)
        .select_related("badge_class__issuer")
        .prefetch_related("requirements__badge_class")
    ):
        programs_by_platform.setdefault(program.platform_id, []).append(program)
    if not programs_by_platform or not ids:
        return 0
    wanted = {r.badge_class_id for ps in programs_by_platform.values() for p in ps for r in p.requirements.all()}
    base = public_base_url() if base_url is None else base_url
    evaluated = 0
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        learners = Person.objects.in_bulk(chunk)
        live: dict[int, dict[int, Award]] = {}
        for award in (
            Award.objects.filter(
                learner_id__in=chunk, revoked=False, course_badge__isnull=False, badge_class_id__in=wanted
            )
            .select_related("badge_class", "course_badge__course")
            .defer("ob3_credential", "ob3_jwt", "badge_class__image")
            .order_by("issued_on", "pk")
        ):
            live.setdefault(award.learner_id, {}).setdefault(award.badge_class_id, award)
        program_awards = {
            (a.learner_id, a.program_id): a
            for a in Award.objects.filter(learner_id__in=chunk, program__isnull=False, revoked=False).only(
                "pk", "learner_id", "program_id", "review_reason", "needs_review", "public_id"
            )
        }
        rows: list[ProgramProgress] = []
        actions: list[Callable[[], object]] = []
        for learner_id in chunk:
            learner = learners.get(learner_id)
            if learner is None:
                continue
            evaluated += 1
            standings = _standings(
                programs=programs_by_platform.get(learner.platform_id, []), live=live.get(learner_id, {})
            )
            for standing in standings:
                rows.append(
                    ProgramProgress(
                        program=standing.program,
                        learner=learner,
                        held_count=len(standing.held),
                        required_count=standing.required,
                        held_awards=[a.public_id for a in standing.held],
                    )
                )
                current = program_awards.get((learner_id, standing.program.pk))
                if standing.met and current is None:
                    actions.append(partial(_issue, standing=standing, learner=learner, base=base))
                elif not standing.met and current is not None:
                    actions.append(partial(_flag, award=current, standing=standing))
        ProgramProgress.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["program", "learner"],
            update_fields=["held_count", "required_count", "held_awards", "evaluated_at"],
        )
        for action in actions:
            action()
    return evaluated


def program_evaluate_all(*, program: Program) -> int:
    """Evaluate every learner of the program's Canvas holding at least one required badge (after
    an admin creates or changes a program). Returns how many learners were evaluated."""
    wanted = list(program.requirements.values_list("badge_class_id", flat=True))
    learner_ids = list(
        Award.objects.filter(revoked=False, badge_class_id__in=wanted, learner__platform_id=program.platform_id)
        .values_list("learner_id", flat=True)
        .distinct()
    )
    return programs_evaluate(learner_ids=learner_ids)


def program_evaluate_all_later(*, program_id: int) -> None:
    """After the commit, evaluate every learner of a program that was created or changed."""
    transaction.on_commit(partial(current_app.send_task, TASK_ALL, args=[program_id]))


RECONCILE_TASK = "badging.programs_reconcile"
RECONCILE_MINUTES = 15


def programs_stale_learner_ids(*, program: Program) -> list[int]:
    """Learners holding (or having held) a required badge whose newest award or revocation is newer
    than their last evaluation of this program, or who were never evaluated: what a lost task left."""
    from django.db.models import F, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce, Greatest

    wanted = list(program.requirements.values_list("badge_class_id", flat=True))
    changed = (
        Award.objects.filter(learner=OuterRef("pk"), badge_class_id__in=wanted, course_badge__isnull=False)
        .annotate(at=Greatest("issued_on", Coalesce("revoked_at", "issued_on")))
        .order_by("-at")
        .values("at")[:1]
    )
    evaluated = ProgramProgress.objects.filter(learner=OuterRef("pk"), program=program).values("evaluated_at")[:1]
    return list(
        Person.objects.filter(platform_id=program.platform_id)
        .annotate(changed=Subquery(changed), evaluated=Subquery(evaluated))
        .filter(changed__isnull=False)
        .filter(Q(evaluated__isnull=True) | Q(changed__gt=F("evaluated")))
        .values_list("pk", flat=True)
    )


def programs_reconcile() -> int:
    """The periodic safety net: evaluates the learners a lost evaluation task left behind, so a lost
    broker message delays a program badge by minutes, never loses it. Returns how many."""
    ids: set[int] = set()
    for program in Program.objects.filter(active=True):
        ids.update(programs_stale_learner_ids(program=program))
    return programs_evaluate(learner_ids=ids) if ids else 0


def programs_beat_schedule_write() -> tuple[str, int, bool]:
    """The django-celery-beat row of programs_reconcile (idempotent, keyed by its name)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    label = "Reconcile program badges"
    with transaction.atomic():
        interval, _ = IntervalSchedule.objects.get_or_create(every=RECONCILE_MINUTES, period=IntervalSchedule.MINUTES)
        row = PeriodicTask.objects.filter(name=label).first()
        changed = row is None or row.task != RECONCILE_TASK or row.interval_id != interval.pk or not row.enabled
        if changed:
            PeriodicTask.objects.update_or_create(
                name=label,
                defaults={
                    "task": RECONCILE_TASK,
                    "interval": interval,
                    "enabled": True,
                    "crontab": None,
                    "kwargs": "{}",
                },
            )
    return RECONCILE_TASK, RECONCILE_MINUTES, changed
