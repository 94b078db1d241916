"""Helpers for the issuance tests (and bench/issue.py): eligible learners, real badge images, and a
tiny stand-in for the one Canvas endpoint issuance calls (the learner's profile, for the email)."""

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from badging import models as bm
from tests import factories as f


def make_png(size: int = 96, colour=(7, 112, 163, 255)) -> bytes:
    image = Image.new("RGBA", (size, size), colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" '
    b'viewBox="0 0 96 96"><circle cx="48" cy="48" r="44" fill="#0770a3"/></svg>'
)


class CanvasProfiles:
    """Serves GET /api/v1/users/<id>/profile from a dict on 127.0.0.1 (threaded, real sockets, so a
    Celery worker process can call it). `fail_users` answer 503; `calls` counts requests per user."""

    def __init__(self, emails: dict[str, str] | None = None):
        self.emails = dict(emails or {})
        self.fail_users: set[str] = set()
        self.calls: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                match = re.match(r"^/api/v1/users/([^/]+)/profile", self.path)
                user_id = match.group(1) if match else ""
                owner.calls[user_id] = owner.calls.get(user_id, 0) + 1
                if not match or user_id not in owner.emails:
                    return self._send(404, {"errors": [{"message": "The specified resource does not exist."}]})
                if user_id in owner.fail_users:
                    return self._send(503, {"errors": [{"message": "Service Unavailable"}]})
                self._send(200, {"id": int(user_id), "primary_email": owner.emails[user_id]})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def course_badge_with_assessments(*, api_base_url: str = "https://canvas.example.edu", image=None, **badge_kwargs):
    platform = f.PlatformFactory(api_base_url=api_base_url, api_token="canvas-api-token")
    course = f.CourseFactory(platform=platform, name="Data Skills 101")
    badge_class = f.BadgeClassFactory(image=image if image is not None else make_png(), **badge_kwargs)
    course_badge = f.CourseBadgeFactory(course=course, badge_class=badge_class)
    f.AssignmentFactory(course=course, name="Cleaning a data set", position=1)
    f.AssignmentFactory(course=course, name="Presenting findings", position=2)
    f.AssignmentFactory(course=course, name="Weekly quiz", assignment_group_name="Quizzes", position=3)
    return course_badge


def eligible_progress(course_badge, *, email: str = "learner@uni.example.edu", **person_kwargs):
    learner = f.PersonFactory(platform=course_badge.course.platform, email=email, **person_kwargs)
    return f.LearnerProgressFactory(
        course_badge=course_badge,
        learner=learner,
        state=bm.LearnerProgress.ELIGIBLE,
        mastered_count=2,
        assessment_count=2,
        final_grade_entered=True,
    )
