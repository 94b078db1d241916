"""The award notification email's content: plain text and HTML in the learner's language, and
its SMTP bytes, built from frames (rendered once per badge class, course, issue date and language,
and once per subject, sender and language) that every email fills with its own values. Each frame
is checked once against the full rendering and never used if they differ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from html import escape as html_escape
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from badging.models import Award
from badging.openbadges import ob2
from badging.openbadges.links import PublicLinks
from badging.selectors.awards import award_link_urls, award_links
from skillsforward.i18n import language_for_person


def learner_page_url(*, course) -> str:
    """Where the learner's own badge page is: inside Canvas, launched from the course menu (the
    tool's page needs an LTI launch, so the email links to the course in Canvas). A program badge
    has no course: no link (My badges is in the Canvas Account menu)."""
    if course is None:
        return ""
    base = (course.platform.api_base_url or "").rstrip("/")
    return f"{base}/courses/{course.canvas_course_id}" if base else ""


def award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    """The notification email (plain text + HTML) for an award, in the learner's language: the
    locale of their latest launch, else the course's Canvas language, else the default."""
    course = award.course
    with translation.override(language_for_person(award.learner, course)):
        return _award_email_message(award=award, links=links, connection=connection)


def _email_context(award: Award, links: PublicLinks, award_link_map: dict) -> dict:
    return {
        "award": award,
        "badge": award.badge_class,
        "issuer": award.badge_class.issuer,
        "learner": award.learner,
        "course": award.course,
        "links": award_link_map,
        "badge_image_url": links.badge_class_image(award.badge_class.public_id),
        "learner_page_url": learner_page_url(course=award.course),
    }


EMAIL_TEMPLATES = ("email/award_issued.txt", "email/award_issued.html")


# Every email of one badge class, course, issue date and language is the same text around a few
# per-award values (the recipient, the learner's name, the award's links). Rendering the two
# templates costs more than the rest of sending, so they are rendered once per such "frame" with
# markers in place of those values, and each email fills its values in (escaped in the HTML part,
# as autoescaping would). A frame is checked once against a full render, and never used if they
# differ (a template that transforms a per-award value with a filter).
_MARK = re.compile("\ue000(\\d+)\ue001")


_frames: dict[tuple, _Frame | None] = {}


def _mark(index: int) -> str:
    return f"\ue000{index}\ue001"


def _per_award_values(award: Award, urls: dict[str, str]) -> list[str]:
    return [award.recipient_email, award.learner.name, *urls.values()]


class _Marked:
    """Stands in for the award or learner while a frame is rendered: per-award fields are markers."""

    def __init__(self, real, **marked):
        self._real, self._marked = real, marked

    def __getattr__(self, name):
        return self._marked[name] if name in self._marked else getattr(self._real, name)


def _frame_key(award: Award, links: PublicLinks) -> tuple:
    badge, course = award.badge_class, award.course
    assert course is not None  # program badges' emails are rendered in full (_email_bodies)
    issuer = badge.issuer
    return (
        translation.get_language(),
        links.base,
        badge.pk,
        badge.updated_at,
        issuer.pk,
        issuer.updated_at,
        course.pk,
        course.updated_at,
        course.platform.api_base_url,
        # The email shows the issue and expiry dates, not the times: one frame serves a whole day's
        # emails (a template that showed the time would have to key its frames by the time).
        timezone.get_current_timezone_name(),
        timezone.localtime(award.issued_on).date(),
        timezone.localtime(award.expires).date() if award.expires else None,
        bool(award.learner.name),
        ob2.is_svg(badge.image_content_type),
    )


def _render(context: dict) -> tuple[str, str]:
    text, html = (str(render_to_string(name, context)) for name in EMAIL_TEMPLATES)
    return text, html


@dataclass
class _Frame:
    """A frame split at its markers: text pieces, and after each piece but the last the index of
    the per-award value that follows it."""

    text: list[str]
    text_values: list[int]
    html: list[str]
    html_values: list[int]

    @classmethod
    def split(cls, text: str, html: str) -> _Frame:
        text_parts, html_parts = _MARK.split(text), _MARK.split(html)
        return cls(
            text=text_parts[::2],
            text_values=[int(i) for i in text_parts[1::2]],
            html=html_parts[::2],
            html_values=[int(i) for i in html_parts[1::2]],
        )

    @staticmethod
    def _fill(pieces: list[str], indexes: list[int], values: list[str]) -> str:
        out = [pieces[0]]
        for index, piece in zip(indexes, pieces[1:], strict=True):
            out += [values[index], piece]
        return "".join(out)

    def fill(self, values: list[str]) -> tuple[str, str]:
        # html.escape is what autoescaping does to a plain string (django.utils.html.escape).
        escaped = [html_escape(value) for value in values]
        return self._fill(self.text, self.text_values, values), self._fill(self.html, self.html_values, escaped)


def _email_bodies(award: Award, links: PublicLinks) -> tuple[str, str]:
    """(plain text, HTML) of the award email, from its frame when there is a good one."""
    if award.course is None:  # a program badge: rare, and its email names no course to frame
        return _render(_email_context(award, links, award_links(award, links=links)))
    urls = award_link_urls(award, links=links)
    values = _per_award_values(award, urls)
    key = _frame_key(award, links)
    frame = _frames.get(key)
    if (frame is None and key in _frames) or any("\ue000" in value for value in values):
        return _render(_email_context(award, links, award_links(award, links=links)))
    if frame is not None:
        return frame.fill(values)
    link_map = award_links(award, links=links)
    marked_links = {k: {**link, "url": _mark(2 + i)} for i, (k, link) in enumerate(link_map.items())}
    learner = _Marked(award.learner, name=_mark(1) if award.learner.name else "")
    context = _email_context(award, links, marked_links)
    context["award"], context["learner"] = _Marked(award, recipient_email=_mark(0), learner=learner), learner
    built = _Frame.split(*_render(context))
    full = _render(_email_context(award, links, link_map))
    if len(_frames) > 256:
        _frames.clear()
    _frames[key] = built if built.fill(values) == full else None
    return full


def _award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    subject = _("You earned the “%(badge)s” badge") % {"badge": award.badge_class.name}
    text, html = _email_bodies(award, links)
    framed = isinstance(connection, SMTPBackend)
    message = (_FramedEmail if framed else EmailMultiAlternatives)(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[award.recipient_email],
        # Learners answer award emails with questions: send them to the issuer's contact, not a no-reply box.
        reply_to=[award.badge_class.issuer.email] if award.badge_class.issuer.email else None,
        connection=connection,
        # Date and Message-ID as Django would add them, set here so that a frame can carry them.
        headers={
            "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
            "Message-ID": make_msgid(domain=DNS_NAME),
            "X-Badge-Award": award.public_id,
            "Content-Language": translation.get_language(),
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# Building the MIME message (headers encoded and folded, parts generated) costs as much as the
# templates did, and it is the same for every email of a subject, sender and language apart from
# the recipient, Date, Message-ID, award id and the two bodies. So the SMTP bytes are generated
# once per such frame with placeholders, split there, and joined with each email's values; a
# frame is checked once against the full generation, and an email its frame cannot carry exactly
# (a non-plain address, a body the full path would encode differently) is generated in full.
_FRAME_VALUES = ("To", "Date", "Message-ID", "X-Badge-Award", "text", "html")


_PLACEHOLDER = "\ue000frame-{}\ue001"  # non-ASCII, as real bodies are: the same 8bit transfer encoding


# \Z, not $: $ also matches before a final newline, which must never reach a header or SMTP command.
_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\Z")


_PLAIN_HEADER = re.compile(r"^[\x21-\x7e]+( [\x21-\x7e]+)*\Z")


_mime_frames: dict[tuple, list[bytes] | None] = {}


class _FramedBytes:
    """The part of a MIME message the SMTP backend uses (as_bytes), for bytes joined from a frame."""

    def __init__(self, data: bytes):
        self.data = data

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self.data if linesep == "\r\n" else self.data.replace(b"\r\n", linesep.encode())


class _FramedEmail(EmailMultiAlternatives):
    def message(self):  # type: ignore[override]  # Django 5.2's message() takes no policy (the stubs' does)
        values = self._frame_values()
        key = (self.subject, self.from_email, tuple(self.reply_to), self.extra_headers.get("Content-Language"))
        frame = _mime_frames.get(key, False)
        if values is None or frame is None:
            return super().message()
        if frame is False:
            frame = self._frame_build(key, values)
            if frame is None:
                return super().message()
        assert isinstance(frame, list)  # built above, or found built
        return _FramedBytes(self._frame_fill(frame, values))

    def _frame_values(self) -> list[bytes] | None:
        """The per-email values as they appear in the SMTP bytes, or None if a frame cannot carry them."""
        html = [str(content) for content, mimetype in self.alternatives if mimetype == "text/html"]
        if (
            len(self.alternatives) != 1
            or len(html) != 1
            or self.attachments
            or self.cc
            or self.bcc
            or len(self.to) != 1
        ):
            return None
        to, headers = self.to[0], self.extra_headers
        if not _PLAIN_ADDRESS.match(to) or not all(_PLAIN_HEADER.match(headers.get(n, "")) for n in _FRAME_VALUES[1:4]):
            return None
        bodies = []
        for body in (str(self.body), html[0]):
            # The full path: 8bit for a non-ASCII body, quoted-printable for one with a line over 998 bytes.
            if body.isascii() or "\r" in body:
                return None
            data = body.replace("\n", "\r\n").encode()
            if len(data) > 998 and max(map(len, data.split(b"\r\n"))) > 998:
                return None
            bodies.append(data)
        return [to.encode(), *(headers[n].encode() for n in _FRAME_VALUES[1:4]), *bodies]

    def _frame_fill(self, frame: list[bytes], values: list[bytes]) -> bytes:
        parts = [frame[0]]
        for value, rest in zip(values, frame[1:], strict=True):
            parts += [value, rest]
        return b"".join(parts)

    def _frame_build(self, key: tuple, values: list[bytes]) -> list[bytes] | None:
        placeholders = [_PLACEHOLDER.format(i) for i in range(len(_FRAME_VALUES))]
        template = EmailMultiAlternatives(
            subject=self.subject,
            body=placeholders[4],
            from_email=self.from_email,
            to=[f"frame-{0}@frame.invalid"],
            reply_to=self.reply_to,
            headers={
                **self.extra_headers,
                "Date": "frame-1",
                "Message-ID": "frame-2",
                "X-Badge-Award": "frame-3",
            },
        )
        template.attach_alternative(placeholders[5], "text/html")
        mime: Any = template.message()
        boundary = mime.get_boundary() or f"===============frame{abs(hash(key))}=="
        mime.set_boundary(boundary)
        data = mime.as_bytes(linesep="\r\n")
        tokens = [b"frame-0@frame.invalid", b"frame-1", b"frame-2", b"frame-3"] + [p.encode() for p in placeholders[4:]]
        pieces, rest = [], data
        for token in tokens:
            if rest.count(token) != 1:
                _mime_frames[key] = None
                return None
            head, rest = rest.split(token)
            pieces.append(head)
        frame = [*pieces, rest]
        # Checked once against Django's own generation of this email (same boundary).
        real: Any = super().message()
        real.set_boundary(boundary)
        if any(boundary.encode() in value for value in values) or (
            self._frame_fill(frame, values) != real.as_bytes(linesep="\r\n")
        ):
            _mime_frames[key] = None
            return None
        if len(_mime_frames) > 256:
            _mime_frames.clear()
        _mime_frames[key] = frame
        return frame
