"""Program badge evaluation (see badging.services.programs). Thin and idempotent."""

from celery import shared_task

from badging.models import Program
from badging.services import programs


@shared_task(name=programs.TASK, acks_late=True, reject_on_worker_lost=True)
def programs_evaluate(learner_ids: list[int]) -> int:
    """Evaluate these learners' program badges after their course awards changed."""
    return programs.programs_evaluate(learner_ids=learner_ids)


@shared_task(name=programs.TASK_ALL, acks_late=True, reject_on_worker_lost=True)
def program_evaluate_all(program_id: int) -> int:
    """Evaluate every learner holding a badge the program requires (after it was created or changed)."""
    program = Program.objects.filter(pk=program_id).first()
    return programs.program_evaluate_all(program=program) if program is not None else 0


@shared_task(name=programs.RECONCILE_TASK, acks_late=True, reject_on_worker_lost=True)
def programs_reconcile() -> int:
    """Evaluate the learners whose program evaluation was lost (periodic)."""
    return programs.programs_reconcile()
