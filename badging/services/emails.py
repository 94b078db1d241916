"""Learners' primary Canvas emails: read in pages of 100 learners, stored with when they were read.

Issuance sends to the learner's primary Canvas email. The roster pass reads it for every learner
(enrollments with include[]=email) and stores Person.email_read_at; an email read less than
BADGING_EMAIL_FRESH_MINUTES ago is fresh and used as is. Stale or missing ones are read here, from
the course's users list (`GET /courses/:id/users?user_ids[]=…&include[]=email`, canvas-lms
courses_controller.rb#users), 100 learners per request: never one request per learner.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from canvas.client import IDS_PER_REQUEST, CanvasClient
from canvas.records import CanvasUser
from lti.models import Person


def email_fresh_after(now: datetime | None = None) -> datetime:
    """Emails read from Canvas at or after this moment are fresh."""
    return (now or timezone.now()) - timedelta(minutes=settings.BADGING_EMAIL_FRESH_MINUTES)


def email_is_fresh(person: Person, now: datetime | None = None) -> bool:
    return bool(person.email and person.email_read_at and person.email_read_at >= email_fresh_after(now))


def primary_emails_read(
    *,
    client: CanvasClient,
    platform_id: int,
    canvas_course_id: str,
    canvas_user_ids: Iterable[str],
    pool: Executor | None = None,
) -> dict[str, str]:
    """Reads these learners' primary emails from the course's users list, 100 per request (several
    at once on `pool`), and stores them with the time they were read. Returns {canvas user id:
    email} for every learner Canvas listed ("" when they have none); a learner Canvas did not list
    (no longer in the course) is left out."""
    ids = sorted({str(u) for u in canvas_user_ids if u})
    chunks = [ids[start : start + IDS_PER_REQUEST] for start in range(0, len(ids), IDS_PER_REQUEST)]

    def read(chunk: list[str]) -> list[CanvasUser]:
        return list(client.list_users_with_email(canvas_course_id, user_ids=chunk))

    pages = pool.map(read, chunks) if pool is not None and len(chunks) > 1 else map(read, chunks)
    found: dict[str, str] = {}
    for users in pages:
        now = timezone.now()
        listed = {u.id: u.email for u in users if u.id}
        found.update(listed)
        with_email = {uid: email for uid, email in listed.items() if email}
        unchanged = set(
            Person.objects.filter(platform_id=platform_id, canvas_user_id__in=list(with_email)).values_list(
                "canvas_user_id", "email"
            )
        )
        for uid, email in with_email.items():
            if (uid, email[:320]) not in unchanged:
                Person.objects.filter(platform_id=platform_id, canvas_user_id=uid).update(email=email[:320])
        Person.objects.filter(platform_id=platform_id, canvas_user_id__in=list(with_email)).update(email_read_at=now)
    return found
