"""The learner's backpack: emailing the code that proves a second address (thin, retried)."""

from smtplib import SMTPException

from celery import shared_task

from badging.services import learner_emails


@shared_task(
    name=learner_emails.SEND_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=5,
)
def learner_email_code_send(learner_email_id: int) -> bool:
    """Email the current code; nothing when it was used, replaced or has expired meanwhile."""
    return learner_emails.learner_email_code_send(learner_email_id=learner_email_id)
