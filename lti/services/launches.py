"""Writes of a launch: the course and person it names, what it teaches us about the platform (root
account guid, REST base), the launch context, and forgetting a person.
"""

import hashlib
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from lti.claims import LTI, claims_parse
from lti.errors import Refused
from lti.models import Course, Deployment, LaunchContext, Person, Platform
from lti.roles import TEST_USER, NoUsableRole, RoleDecision, concluded_roles_parse, role_decide
from lti.services.platforms import _frame_ancestors_forget, canvas_token_url, deployment_record

logger = logging.getLogger(__name__)


def course_upsert(
    *, platform: Platform, canvas_course_id: str, lti_context_id: str = "", name: str = "", course_code: str = ""
) -> Course:
    """The course row for this Canvas course; known values are refreshed, blanks never erase."""
    values = {"lti_context_id": lti_context_id, "name": name, "course_code": course_code}
    defaults = {k: v for k, v in values.items() if v}
    try:
        course, created = Course.objects.get_or_create(
            platform=platform, canvas_course_id=canvas_course_id, defaults=defaults
        )
    except IntegrityError:  # a concurrent launch created it first
        course, created = Course.objects.get(platform=platform, canvas_course_id=canvas_course_id), False
    # The signed context a course is bound to never changes (lti_course_context_unique).
    rebind = bool(course.lti_context_id)
    changed = [k for k, v in defaults.items() if getattr(course, k) != v and not (k == "lti_context_id" and rebind)]
    if not created and changed:
        for key in changed:
            setattr(course, key, defaults[key])
        course.save(update_fields=[*changed, "updated_at"])
    return course


def person_upsert(
    *,
    platform: Platform,
    canvas_user_id: str,
    lti_sub: str = "",
    name: str = "",
    sortable_name: str = "",
    email: str = "",
    locale: str = "",
) -> Person:
    """The person row for this Canvas user (from a launch or a sync); blanks never erase known values.

    A new email also stamps email_read_at, so issuance can tell how fresh the address is.
    """
    values = {
        "lti_sub": lti_sub,
        "name": name,
        "sortable_name": sortable_name,
        "email": email.strip().lower(),
        "locale": locale,
    }
    defaults: dict[str, object] = {k: v for k, v in values.items() if v}
    if defaults.get("email"):
        defaults["email_read_at"] = timezone.now()
    try:
        person, created = Person.objects.get_or_create(
            platform=platform, canvas_user_id=canvas_user_id, defaults=defaults
        )
    except IntegrityError:
        person, created = Person.objects.get(platform=platform, canvas_user_id=canvas_user_id), False
    if not created:
        # A person's signed subject never changes (lti_person_sub_unique).
        changed = [
            k
            for k, v in defaults.items()
            if k != "email_read_at" and getattr(person, k) != v and not (k == "lti_sub" and person.lti_sub)
        ]
        if defaults.get("email"):
            changed.append("email_read_at")
        if changed:
            for key in changed:
                setattr(person, key, defaults[key])
            person.save(update_fields=[*changed, "updated_at"])
    return person


def person_forget(*, person: Person) -> dict[str, int]:
    """Removes what the tool keeps about a person (name, sortable name, email, and their launches,
    which hold the launch's email) in the caller's transaction; returns counts per kind.

    The row itself stays, with its Canvas user id and LTI subject (opaque ids, no personal data):
    awards point to it, and a later sync or launch of the same Canvas user finds it again instead
    of issuing a second badge. Such a sync reads the name and email from Canvas again."""
    had_profile = bool(person.name or person.sortable_name or person.email or person.email_read_at)
    if had_profile:
        Person.objects.filter(pk=person.pk).update(
            name="", sortable_name="", email="", email_read_at=None, updated_at=timezone.now()
        )
        person.name = person.sortable_name = person.email = ""
        person.email_read_at = None
    launches, _ = LaunchContext.objects.filter(person=person).delete()
    return {"learner_profiles": int(had_profile), "launches": launches}


def launch_context_create(
    *,
    platform: Platform,
    deployment: Deployment,
    course: Course | None,
    person: Person,
    decision: RoleDecision,
    roles: list[str],
    email: str = "",
    locale: str = "",
) -> LaunchContext:
    """A server-side record of this launch, addressed by an opaque id: it ends when unused for
    LTI_LAUNCH_IDLE_MINUTES, and at the latest LTI_LAUNCH_MAX_HOURS after the launch.

    `browser_key` (not stored; only its hash is) is the cookie the launch response gives the
    launching browser (lti.launch.launch_cookie_set): once it comes back, the link only works with it.
    """
    now = timezone.now()
    browser_key = secrets.token_urlsafe(32)
    context = LaunchContext.objects.create(
        platform=platform,
        deployment=deployment,
        course=course,
        person=person,
        role=decision.role,
        is_teaching_assistant=decision.is_teaching_assistant,
        is_test_user=decision.is_test_user,
        concluded=decision.concluded,
        roles=list(roles),
        email=email,
        locale=locale,
        expires_at=now + timedelta(hours=settings.LTI_LAUNCH_MAX_HOURS),
        last_used_at=now,
        browser_key_hash=hashlib.sha256(browser_key.encode()).hexdigest(),
    )
    context.browser_key = browser_key  # type: ignore[attr-defined]
    return context


def launch_contexts_purge_expired() -> int:
    """Deletes launch contexts past their absolute expiry or idle for too long; returns how many."""
    now = timezone.now()
    idle_since = now - timedelta(minutes=settings.LTI_LAUNCH_IDLE_MINUTES)
    deleted, _ = LaunchContext.objects.filter(Q(expires_at__lte=now) | Q(last_used_at__lte=idle_since)).delete()
    return deleted


def platform_guid_record(*, platform: Platform, claims: dict) -> None:
    """Remembers the Canvas root account guid of a signed launch (tool_platform.guid, which Canvas
    sets to root_account.lti_guid): Live Events name their root account by the same value."""
    tool_platform = claims.get(LTI + "tool_platform")
    guid = str(tool_platform.get("guid") or "").strip() if isinstance(tool_platform, dict) else ""
    if not guid or guid == platform.canvas_guid:
        return
    if platform.canvas_guid:
        # One registration used by two root accounts: keep the first, events of the other are refused.
        logger.warning("lti launch: %s sent root account guid %r, recorded is %r", platform, guid, platform.canvas_guid)
        return
    platform.canvas_guid = guid[:255]
    platform.save(update_fields=["canvas_guid", "updated_at"])


def platform_api_base_url_record(*, platform: Platform, launched: str) -> None:
    """Takes the REST base from a signed launch's $Canvas.api.baseUrl when registration could not
    know it or guessed it (hosted Canvas registers from its shared issuer host). An admin's value is
    never changed, and the first launch's value is kept: the Canvas API token is sent to this
    address, so a later launch (e.g. a sub-account's custom field) cannot move it elsewhere."""
    launched = launched.strip().rstrip("/")
    parts = urlsplit(launched)
    if not launched or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return
    if launched == platform.api_base_url:
        return
    if platform.api_base_url and platform.api_base_url_source != Platform.SOURCE_REGISTRATION:
        logger.warning(
            "lti launch: %s sent $Canvas.api.baseUrl %r, kept %r (from %s)",
            platform,
            launched,
            platform.api_base_url,
            platform.api_base_url_source,
        )
        return
    platform.api_base_url = launched
    platform.api_base_url_source = Platform.SOURCE_LAUNCH
    platform.auth_token_url = platform.auth_token_url or canvas_token_url(launched)
    platform.save(update_fields=["api_base_url", "api_base_url_source", "auth_token_url", "updated_at"])
    # The API host frames the tool too (CSP frame-ancestors).
    transaction.on_commit(_frame_ancestors_forget)


def _launch_course(*, platform: Platform, parsed) -> Course:
    """The course of a launch, by the signed `context.id`. The custom canvas_course_id only names
    the Canvas course the first time a context is seen: it never moves a known context to another
    course, nor takes over a course already bound to another context."""
    if not parsed.context_id:
        raise Refused("missing_course", "no context.id in the launch")
    course = Course.objects.filter(platform=platform, lti_context_id=parsed.context_id).first()
    if course is not None:
        if parsed.canvas_course_id and parsed.canvas_course_id != course.canvas_course_id:
            logger.warning(
                "lti launch: context %s is course %s; custom canvas_course_id %r ignored",
                parsed.context_id,
                course.canvas_course_id,
                parsed.canvas_course_id,
            )
        return course_upsert(
            platform=platform,
            canvas_course_id=course.canvas_course_id,
            lti_context_id=parsed.context_id,
            name=parsed.context_title,
            course_code=parsed.context_label,
        )
    if not parsed.canvas_course_id:
        raise Refused("missing_course", f"no canvas_course_id; context {parsed.context_id!r}")
    bound = (
        Course.objects.filter(platform=platform, canvas_course_id=parsed.canvas_course_id)
        .exclude(lti_context_id="")
        .first()
    )
    if bound is not None:
        raise Refused(
            "identity_conflict",
            f"context {parsed.context_id!r} claims course {parsed.canvas_course_id}, "
            f"which is context {bound.lti_context_id!r}",
        )
    return course_upsert(
        platform=platform,
        canvas_course_id=parsed.canvas_course_id,
        lti_context_id=parsed.context_id,
        name=parsed.context_title,
        course_code=parsed.context_label,
    )


def _launch_person(*, platform: Platform, parsed) -> Person:
    """The person of a launch, by the signed `sub`. The custom canvas_user_id only names the Canvas
    user the first time a subject is seen: it never writes into another person's record."""
    person = Person.objects.filter(platform=platform, lti_sub=parsed.sub).first() if parsed.sub else None
    if person is not None:
        if parsed.canvas_user_id and parsed.canvas_user_id != person.canvas_user_id:
            logger.warning(
                "lti launch: sub %s is Canvas user %s; custom canvas_user_id %r ignored",
                parsed.sub,
                person.canvas_user_id,
                parsed.canvas_user_id,
            )
        canvas_user_id = person.canvas_user_id
    else:
        canvas_user_id = parsed.canvas_user_id
        if not canvas_user_id:
            raise Refused("missing_user", f"no canvas_user_id for sub {parsed.sub!r}")
        bound = Person.objects.filter(platform=platform, canvas_user_id=canvas_user_id).exclude(lti_sub="").first()
        if bound is not None and bound.lti_sub != parsed.sub:
            raise Refused(
                "identity_conflict",
                f"sub {parsed.sub!r} claims Canvas user {canvas_user_id}, which is sub {bound.lti_sub!r}",
            )
    return person_upsert(
        platform=platform,
        canvas_user_id=canvas_user_id,
        lti_sub=parsed.sub,
        name=parsed.name,
        sortable_name=parsed.sortable_name,
        email=parsed.email,
        locale=parsed.locale,
    )


def _backpack_launch_record(*, platform: Platform, deployment_id: str, claims: dict, parsed) -> LaunchContext:
    """A launch from the account or user navigation ("My badges"): no course, so no course role.

    Whoever launches sees only their own badges, so any signed-in Canvas user may; Student View's
    test user has none and is refused (Canvas only offers it inside a course anyway).
    """
    if TEST_USER in parsed.roles:
        raise Refused("no_usable_role", "test user outside a course")
    context = _launch_rows_record(
        platform=platform,
        deployment_id=deployment_id,
        claims=claims,
        parsed=parsed,
        decision=RoleDecision(role=LaunchContext.ROLE_LEARNER),
        with_course=False,
    )
    logger.info(
        "lti launch: %s to My badges (%s, %s)",
        context.person.canvas_user_id,
        parsed.placement or "no course",
        platform,
    )
    return context


def _launch_rows_record(
    *, platform: Platform, deployment_id: str, claims: dict, parsed, decision: RoleDecision, with_course: bool
) -> LaunchContext:
    """The rows a verified launch writes, all or nothing: its deployment (known, or refused), the
    course (a course launch), the person, what the launch tells about the platform (API base URL,
    root account GUID) and the launch context."""
    with transaction.atomic():
        try:
            deployment = deployment_record(platform=platform, deployment_id=deployment_id)
        except Deployment.DoesNotExist as exc:
            raise Refused("unknown_deployment", f"{deployment_id!r} for {platform}") from exc
        course = _launch_course(platform=platform, parsed=parsed) if with_course else None
        person = _launch_person(platform=platform, parsed=parsed)
        platform_api_base_url_record(platform=platform, launched=parsed.api_base_url)
        platform_guid_record(platform=platform, claims=claims)
        return launch_context_create(
            platform=platform,
            deployment=deployment,
            course=course,
            person=person,
            decision=decision,
            roles=parsed.roles,
            email=parsed.email,
            locale=parsed.locale,
        )


def launch_record(*, platform: Platform, deployment_id: str, claims: dict) -> LaunchContext:
    """Turns a verified launch into Course, Person and LaunchContext rows (all or nothing).

    Raises Refused when the launch lacks what the product needs (a usable role, the Canvas course
    and user ids); nothing is written then.
    """
    parsed = claims_parse(claims)
    if not parsed.is_course_launch:
        return _backpack_launch_record(platform=platform, deployment_id=deployment_id, claims=claims, parsed=parsed)
    try:
        decision = role_decide(parsed.roles, concluded_roles=concluded_roles_parse(parsed.concluded_roles))
    except NoUsableRole as exc:
        raise Refused("no_usable_role", f"roles: {exc}") from exc
    context = _launch_rows_record(
        platform=platform,
        deployment_id=deployment_id,
        claims=claims,
        parsed=parsed,
        decision=decision,
        with_course=True,
    )
    person, course = context.person, context.course
    assert course is not None  # with_course=True
    logger.info(
        "lti launch: %s as %s%s%s in course %s (%s)",
        person.canvas_user_id,
        decision.role,
        " (test user)" if decision.is_test_user else "",
        " (concluded enrollment, read-only)" if decision.concluded else "",
        course.canvas_course_id,
        platform,
    )
    return context
