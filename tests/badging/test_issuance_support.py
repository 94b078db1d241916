"""Helpers for the issuance tests and bench/issue.py (so no model imports at module level):
eligible learners, real badge images, a stand-in for the one Canvas endpoint issuance calls (the
learner's profile, for the email) and an SMTP sink."""

import io
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from PIL import Image


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
    """Serves GET /api/v1/users/<id>/profile and the course's users list named by user_ids[] (with
    include[]=email) from a dict on 127.0.0.1 (threaded, real sockets, so a Celery worker process
    can call it). A request naming one of `fail_users` answers 503; `calls` counts requests naming
    each user."""

    def __init__(self, emails: dict[str, str] | None = None):
        self.emails = dict(emails or {})
        self.fail_users: set[str] = set()
        self.slow_users: dict[str, float] = {}  # user id -> seconds to wait before answering
        self.calls: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like Canvas: one connection per client
            disable_nagle_algorithm = True  # headers and body are separate writes

            def do_GET(self):
                listed = re.match(r"^/api/v1/courses/[^/]+/users\?(.*)$", self.path)
                if listed:  # a page of the course's users named by user_ids[], with their emails
                    named = parse_qs(listed.group(1)).get("user_ids[]", [])
                    for user_id in named:
                        owner.calls[user_id] = owner.calls.get(user_id, 0) + 1
                    time.sleep(max([owner.slow_users.get(u, 0.0) for u in named] or [0.0]))
                    if owner.fail_users & set(named):
                        return self._send(503, {"errors": [{"message": "Service Unavailable"}]})
                    return self._send(
                        200,
                        [
                            {"id": int(u), "name": f"User {u}", "email": owner.emails[u]}
                            for u in named
                            if u in owner.emails
                        ],
                    )
                match = re.match(r"^/api/v1/users/([^/]+)/profile", self.path)
                user_id = match.group(1) if match else ""
                owner.calls[user_id] = owner.calls.get(user_id, 0) + 1
                if not match or user_id not in owner.emails:
                    return self._send(404, {"errors": [{"message": "The specified resource does not exist."}]})
                if user_id in owner.slow_users:
                    time.sleep(owner.slow_users[user_id])
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
    from tests import factories as f

    platform = f.PlatformFactory(api_base_url=api_base_url, api_token="canvas-api-token")
    course = f.CourseFactory(platform=platform, name="Data Skills 101")
    badge_class = f.BadgeClassFactory(image=image if image is not None else make_png(), **badge_kwargs)
    course_badge = f.CourseBadgeFactory(course=course, badge_class=badge_class)
    f.AssignmentFactory(course=course, name="Cleaning a data set", position=1)
    f.AssignmentFactory(course=course, name="Presenting findings", position=2)
    f.AssignmentFactory(course=course, name="Weekly quiz", assignment_group_name="Quizzes", position=3)
    return course_badge


def eligible_progress(course_badge, *, email: str = "learner@uni.example.edu", **person_kwargs):
    from badging import models as bm
    from tests import factories as f

    learner = f.PersonFactory(platform=course_badge.course.platform, email=email, **person_kwargs)
    return f.LearnerProgressFactory(
        course_badge=course_badge,
        learner=learner,
        state=bm.LearnerProgress.ELIGIBLE,
        mastered_count=2,
        assessment_count=2,
        final_grade_entered=True,
    )


class SMTPSink:
    """A minimal SMTP server on 127.0.0.1 that accepts every message and keeps it (threaded, real
    sockets: Celery worker processes send to it). `refuse` > 0 answers 451 to that many DATA commands.
    `drop` > 0 keeps that many messages and closes the connection without answering (a server that
    took the email but whose 250 never arrived). While `hold` is set, a kept message's 250 waits
    until it is cleared (`holding` is set meanwhile): the sender is stuck between the server taking
    the email and knowing it. It offers PIPELINING (RFC 2920) unless told not to.
    """

    def __init__(self, *, pipelining: bool = True):
        import socketserver

        self.messages: list[dict] = []
        self.refuse = 0
        self.refusing = ""  # "421" or "451": every message refused with that code while set
        self.drop = 0
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            disable_nagle_algorithm = True

            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                sender, recipients = "", []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode("latin-1").strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        extensions = b"250-PIPELINING\r\n" if pipelining else b""
                        self.wfile.write(b"250-sink\r\n" + extensions + b"250 8BITMIME\r\n")
                    elif verb == "MAIL":
                        sender, recipients = command[10:].strip("<> "), []
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        recipients.append(command[8:].strip("<> "))
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        body = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            body.append(chunk)
                        with owner.lock:
                            if owner.refusing == "421":  # shutting down: refuse and close
                                self.wfile.write(b"421 4.3.2 service not available, closing\r\n")
                                return
                            if owner.refusing:
                                self.wfile.write(b"451 4.3.0 try again later\r\n")
                                continue
                            if owner.refuse > 0:
                                owner.refuse -= 1
                                self.wfile.write(b"451 4.3.0 try again later\r\n")
                                continue
                            owner.messages.append({"from": sender, "to": recipients, "data": b"".join(body)})
                            dropped = owner.drop > 0
                            owner.drop -= 1 if dropped else 0
                        if dropped:
                            return  # the connection closes with no answer to the message
                        while owner.hold.is_set():
                            owner.holding.set()
                            time.sleep(0.05)
                        self.wfile.write(b"250 OK queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # RSET, NOOP, ...
                        self.wfile.write(b"250 OK\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                # A client hanging up mid-conversation is what some tests do on purpose.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
