"""Run inside a restored database (DATABASE_URL, FIELD_ENCRYPTION_KEY and PUBLIC_BASE_URL from the
environment): issues one eligible learner's award the way a worker does, Canvas answered by
`responses`, and prints what the backup drill checks as one JSON line.

    python tests/ops/restored_issue.py PROGRESS_ID CANVAS_BASE_URL
"""

import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillsforward.settings")

import django

django.setup()

import responses  # noqa: E402
from celery.app.base import Celery  # noqa: E402

from badging.models import IssuerKey, LearnerProgress  # noqa: E402
from badging.services.issuance import issue  # noqa: E402
from tests.conftest import FAKE_PUBLIC_ADDRESS  # noqa: E402


def main(progress_id: int, canvas: str) -> dict:
    # The email is queued on commit; the drill checks the award, not the mail (as the `enqueued`
    # fixture does: every enqueue goes through Celery.send_task).
    Celery.send_task = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    # The drill's Canvas host has no DNS here: the outbound guard sees it at a public address, as the
    # test suite's own fixture does (tests/conftest.py, _fake_public_dns).
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            return real_getaddrinfo(host, port, *args, **kwargs)
        except socket.gaierror:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (FAKE_PUBLIC_ADDRESS, port or 0))]

    socket.getaddrinfo = getaddrinfo
    progress = LearnerProgress.objects.select_related("learner", "course_badge__course__platform").get(pk=progress_id)
    user_id = progress.learner.canvas_user_id
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        # The learner's email is stale after a restore: issuance re-reads it from the course's users list.
        course_id = progress.course_badge.course.canvas_course_id
        listed = [{"id": int(user_id), "name": "Restored", "email": "restored@uni.example.edu"}]
        rsps.add(responses.GET, f"{canvas}/api/v1/courses/{course_id}/users", json=listed)
        award = issue.award_issue(progress_id=progress_id)
        authorization = [call.request.headers.get("Authorization") for call in rsps.calls]
    progress.refresh_from_db()
    return {
        "api_token": progress.course_badge.course.platform.api_token,
        "authorization": authorization,
        "award": award.public_id if award else None,
        "issue_error": progress.issue_error,
        "current_keys": sorted(
            IssuerKey.objects.filter(superseded_at__isnull=True).values_list("public_id", flat=True)
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
