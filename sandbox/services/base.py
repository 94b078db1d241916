"""What every sandbox action shares: the refusal it raises and the web request its Live Events belong to."""

import contextlib

from sandbox import live_events
from sandbox.models import SandboxCourse, SandboxUser


class SandboxError(ValueError):
    """A teacher/admin action that Canvas would refuse; the message is shown to the user."""


def _course_request(*, course: SandboxCourse, path: str, actor: SandboxUser | None = None, referrer: str = ""):
    """The web request a teacher's action in the course is (its Live Events share its request_id).
    Inside an action already under way (one request), that request."""
    if live_events._current.get() is not None:
        return contextlib.nullcontext()
    if actor is None:
        actor = (
            SandboxUser.objects.filter(
                enrollments__course=course, enrollments__type="TeacherEnrollment", enrollments__workflow_state="active"
            )
            .order_by("id")
            .first()
        )
    base = f"{course.instance.root_url}/courses/{course.id}"
    return live_events.request(actor=actor, url=f"{base}/{path}", referrer=f"{base}/{referrer}" if referrer else None)
