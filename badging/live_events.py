"""Canvas Live Events (HTTPS transport): verify a delivery and turn it into a targeted course refresh.

Canvas signs events ("Sign Payload") as an RS256 JWT whose claims are the event
(`{"metadata": {...}, "body": {...}}`), with keys published at a JWKS URL that rotates monthly
(reference lti-canvas.md §B4), read with the same key-set fetcher as LTI launches (lti.keyset:
cached, refetched at most once a minute when an event names an unknown kid). Delivery is best
effort, unordered and may repeat: an event only ever asks for a sync of its course, which is
coalesced, so duplicates cost nothing.

Canvas counts a non-2xx answer as a failed delivery and deactivates an HTTPS subscription after
repeated failures within 24 hours (canvas-lms doc/api/data_services/md/static/data_service_setup.md):
every authentic event is answered 2xx, including the ones nothing is done for (other event names,
courses without a badge, another root account, stale or replayed deliveries); only what is not
authentic (bad signature, unsigned when signing is required), malformed or oversized gets a 4xx.

On hosted Canvas that key is Instructure's, shared by every Canvas customer: a valid signature only
says "some Canvas sent this". Which platform it is for comes from the URL it is posted to
(/events/canvas/<Platform.live_events_key>/, known only to that platform's admin), and, when both
sides know it, from the root account guid in the event's metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.core.cache import cache

from badging.models import CourseBadge
from lti import keyset
from lti.models import Platform

logger = logging.getLogger(__name__)

# Clocks differ: an event (or its JWT) dated up to this far in the future is still taken.
CLOCK_SKEW_SECONDS = 300
SEEN_KEY = "badging:live_events:seen:{platform}:{identity}"
# Canvas global ids are shard_id * 10**13 + local id.
SHARD_FACTOR = 10**13

GRADE_EVENTS = frozenset({"grade_change", "submission_updated", "submission_created", "rubric_assessed"})
ROSTER_EVENTS = frozenset({"grade_override", "enrollment_updated", "enrollment_created", "course_grade_change"})
# Posted course scores changed (e.g. grades were posted): the learner's results are re-read too,
# since posting does not move graded_at (canvas-lms lib/canvas/live_events.rb course_grade_change).
RESULT_EVENTS = GRADE_EVENTS | {"course_grade_change"}
HANDLED_EVENTS = GRADE_EVENTS | ROSTER_EVENTS


class LiveEventRejected(Exception):
    """The delivery is refused; `status` is the HTTP answer (400 malformed, 401 not authentic,
    503 the key set could not be read: a passing fault on our side)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LiveEventOutcome:
    event_name: str
    course_ids: tuple[int, ...]  # our Course pks whose sync was requested
    handled: bool
    ignored: str = ""  # why an authentic event was not acted on (acknowledged all the same)


def local_id(value: object) -> str:
    """Canvas local id from a local or global id ('10000000000123' → '123')."""
    text = str(value or "").strip()
    if not text.isdigit():
        return ""
    number = int(text)
    return str(number % SHARD_FACTOR if number >= SHARD_FACTOR else number)


def _verify_jwt(token: str) -> dict:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise LiveEventRejected("the body is neither a signed event (JWT) nor JSON", 400)
    if header.get("alg") != "RS256":
        raise LiveEventRejected(f"events must be signed with RS256, not {header.get('alg')!r}", 401)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise LiveEventRejected("the event's JWT header names no key (kid)", 401)
    url = settings.LIVE_EVENTS_JWKS_URL
    if not url:
        raise LiveEventRejected("signed events cannot be checked: LIVE_EVENTS_JWKS_URL is not set", 401)
    try:
        key = keyset.signing_key(url, kid=kid, alg="RS256")
    except keyset.KeySetUnavailable as exc:
        logger.warning("live events: the key set could not be read: %s", exc)
        raise LiveEventRejected("the Live Events key set could not be read", 503)
    except keyset.UnknownKey as exc:
        logger.info("live events: %s", exc)
        raise LiveEventRejected(f"the event is signed with an unknown key ({kid!r})", 401)
    try:
        # The signature only: the JWT's dates are judged with the event's own (live_event_stale).
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": []},
        )
    except jwt.PyJWTError as exc:
        raise LiveEventRejected(f"the event signature is not valid ({exc})", 401)
    return claims


def live_event_parse(*, body: bytes, content_type: str = "", secret: str = "") -> dict:
    """The event of a delivery, after checking it is authentic. Raises LiveEventRejected."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        raise LiveEventRejected("the body is empty", 400)
    if text.startswith("{"):
        shared = settings.LIVE_EVENTS_SHARED_SECRET
        allowed = settings.LIVE_EVENTS_ALLOW_UNSIGNED or (shared and hmac.compare_digest(secret, shared))
        if not allowed:
            raise LiveEventRejected(
                "unsigned events are refused: turn on 'Sign Payload' for this Live Events subscription", 401
            )
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            raise LiveEventRejected("the body is not valid JSON", 400)
    else:
        event = _verify_jwt(text)
    if not isinstance(event, dict) or not isinstance(event.get("metadata"), dict):
        raise LiveEventRejected("the event has no metadata", 400)
    return event


def _guid_matches(*, known: str, lti_guid: str, uuid: str) -> bool:
    if lti_guid:
        return hmac.compare_digest(lti_guid, known)
    # Canvas's lti_guid is "<root account uuid>.<domain>" (or "<uuid>:<suffix>" on some installs).
    return known == uuid or known.startswith((uuid + ".", uuid + ":"))


def _timestamp(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


def live_event_stale(*, event: dict, now: float | None = None) -> str:
    """Why an authentic event is too old (or too far ahead) to act on, or "" when it is fresh.

    Canvas dates every event (metadata.event_time, ISO 8601 with milliseconds: canvas-lms
    doc/api/data_services/md/dynamic/data_service_canvas_event_metadata.md); the JWT's `iat` and
    `exp`, when the signer sets them, bound it too. Without any date an event is not acted on: a
    recorded delivery could otherwise be replayed for ever."""
    now = datetime.now(UTC).timestamp() if now is None else now
    window = settings.LIVE_EVENTS_MAX_AGE_SECONDS
    metadata: dict = event.get("metadata") or {}
    dated = False
    for label, value in (("event_time", metadata.get("event_time")), ("iat", event.get("iat"))):
        if value is None:
            continue
        when = _timestamp(value)
        if when is None:
            return f"its {label} is not a date"
        if when < now - window:
            return f"its {label} is older than {window} seconds"
        if when > now + CLOCK_SKEW_SECONDS:
            return f"its {label} is in the future"
        dated = True
    if event.get("exp") is not None:
        expires = _timestamp(event.get("exp"))
        if expires is None or expires < now - CLOCK_SKEW_SECONDS:
            return "its signature has expired"
    return "" if dated else "it has no event_time"


def _event_identity(event: dict) -> str:
    """The event's own id when it has one; else a digest of the whole event. Not the request id
    alone: one Canvas request emits several events with the same request_id (the documented
    grade_change and submission_updated examples share one)."""
    metadata: dict = event.get("metadata") or {}
    own = str(metadata.get("event_id") or "").strip()
    if own:
        return "id:" + hashlib.sha256(own.encode()).hexdigest()
    canonical = json.dumps({"metadata": metadata, "body": event.get("body")}, sort_keys=True, default=str)
    return "digest:" + hashlib.sha256(canonical.encode()).hexdigest()


def live_event_first_delivery(*, event: dict, platform: Platform) -> bool:
    """True the first time this event comes to this platform's URL, False for a replay (or a second
    delivery). Remembered a little longer than an event stays fresh, so no replay outlives it."""
    key = SEEN_KEY.format(platform=platform.pk, identity=_event_identity(event))
    return bool(cache.add(key, 1, settings.LIVE_EVENTS_MAX_AGE_SECONDS + 2 * CLOCK_SKEW_SECONDS))


def live_event_forget_delivery(*, event: dict, platform: Platform) -> None:
    """Handling failed: a redelivery of the event must be taken."""
    cache.delete(SEEN_KEY.format(platform=platform.pk, identity=_event_identity(event)))


def live_event_other_root_account(*, event: dict, platform: Platform) -> str:
    """The event's root account when it is not the platform's, else "".

    Canvas-format metadata carries `root_account_uuid` and `root_account_lti_guid` (canvas-lms
    doc/api/data_services/md/dynamic/data_service_canvas_event_metadata.md, e.g. "VicYj3….oxana.
    instructure.com"); the launch claim tool_platform.guid is the same root_account.lti_guid
    (canvas-lms lib/lti/messages/jwt_message.rb, add_tool_platform_claims!). Either side may lack it
    (no launch yet, older events): then the secret URL alone decides. Such an event is authentic
    (hosted Canvas signs every customer's with one key): it is acknowledged and nothing is done.
    """
    metadata: dict = event.get("metadata") or {}
    lti_guid = str(metadata.get("root_account_lti_guid") or "").strip()
    uuid = str(metadata.get("root_account_uuid") or "").strip()
    if not platform.canvas_guid or not (lti_guid or uuid):
        return ""
    if not _guid_matches(known=platform.canvas_guid, lti_guid=lti_guid, uuid=uuid):
        return lti_guid or uuid
    return ""


def live_event_handle(*, event: dict, platform: Platform) -> LiveEventOutcome:
    """Request a (coalesced) sync of the event's course on `platform` when the event can change a
    learner's state. Courses of other platforms are never touched, whatever their Canvas ids."""
    from badging.services.sync.coordination import course_sync_request
    from badging.services.sync.marks import course_sync_learners_mark, course_sync_postings_mark

    metadata: dict = event.get("metadata") or {}
    body: dict = event["body"] if isinstance(event.get("body"), dict) else {}
    name = str(metadata.get("event_name") or "")
    if name not in HANDLED_EVENTS:
        return LiveEventOutcome(name, (), False)
    course = local_id(body.get("course_id"))
    if not course and str(metadata.get("context_type", "")).lower() == "course":
        course = local_id(metadata.get("context_id"))
    if not course:
        return LiveEventOutcome(name, (), False)
    course_ids = tuple(
        sorted(
            set(
                CourseBadge.objects.filter(
                    course__platform=platform, course__canvas_course_id=course, active=True
                ).values_list("course_id", flat=True)
            )
        )
    )
    user = local_id(body.get("user_id"))
    learner = user if name in ROSTER_EVENTS else ""
    for course_id in course_ids:
        if learner:
            # A final grade override or enrollment change of one learner: re-read just that learner.
            course_sync_learners_mark(course_id=course_id, canvas_user_ids=[learner])
        if user and name in RESULT_EVENTS:
            # A grade event or changed posted scores may be a posting, which graded_since cannot
            # see: recheck that learner's unposted grades.
            course_sync_postings_mark(course_id=course_id, canvas_user_ids=[user])
        course_sync_request(
            course_id=course_id,
            trigger=f"live_event:{name}"[:30],
            roster=True if name in ROSTER_EVENTS and not learner else None,
        )
    return LiveEventOutcome(name, course_ids, True)


def live_event_receive(*, event: dict, platform: Platform) -> LiveEventOutcome:
    """An authentic event posted to `platform`'s URL: ignored (with the reason) when it is another
    root account's, stale, or a second delivery of an event the tool acts on; handled otherwise."""
    name = str((event.get("metadata") or {}).get("event_name") or "")
    other = live_event_other_root_account(event=event, platform=platform)
    if other:
        return LiveEventOutcome(name, (), False, f"the event is from another Canvas root account ({other!r})")
    stale = live_event_stale(event=event)
    if stale:
        return LiveEventOutcome(name, (), False, f"the event is not acted on: {stale}")
    # Only events the tool acts on are remembered: the others cost no cache entry.
    if name in HANDLED_EVENTS and not live_event_first_delivery(event=event, platform=platform):
        return LiveEventOutcome(name, (), False, "this event was already delivered")
    try:
        return live_event_handle(event=event, platform=platform)
    except Exception:
        live_event_forget_delivery(event=event, platform=platform)  # Canvas's redelivery is taken
        raise
