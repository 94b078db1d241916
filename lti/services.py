"""Writes of the LTI side: platform registrations, our signing keys, courses, people and launches."""

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwcrypto.jwk import JWK

from lti.claims import LTI, claims_parse
from lti.errors import Refused
from lti.models import (
    CANVAS_AUTH_LOGIN_URL,
    CANVAS_KEYSET_URL,
    Course,
    Deployment,
    LaunchContext,
    Person,
    Platform,
    RegistrationInvite,
    ToolKey,
)
from lti.roles import TEST_USER, NoUsableRole, RoleDecision, concluded_roles_parse, role_decide

logger = logging.getLogger(__name__)

TOOL_KEY_BITS = 2048


# --- Platforms --------------------------------------------------------------------------------------


def canvas_token_url(api_base_url: str) -> str:
    """Canvas's OAuth2 token endpoint lives on the institution's own host (the assertion aud)."""
    return f"{api_base_url.rstrip('/')}/login/oauth2/token" if api_base_url else ""


def _check_url(field: str, url: str) -> None:
    # Lenient on purpose: the local Canvas stand-in lives on hosts like http://testserver.
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url)):
        raise ValueError(f"{field} is not an http(s) URL: {url!r}")


class PlatformConflict(ValueError):
    """A manual registration names a client id that a dynamic registration already holds."""


def _platform_endpoints_check(platform: Platform) -> None:
    for field in ("issuer", "auth_login_url", "auth_token_url", "keyset_url", "api_base_url"):
        _check_url(field, getattr(platform, field))


def _platform_conflict_message(platform: Platform) -> str:
    state = "pending approval" if platform.status == Platform.STATUS_PENDING else "approved"
    origin = f" from {platform.requested_ip}" if platform.requested_ip else ""
    return (
        f"client id {platform.client_id} of {platform.issuer} was registered through dynamic registration "
        f"({state}, {platform.created_at:%Y-%m-%d %H:%M} UTC{origin}), with its own key set {platform.keyset_url} "
        "and login URL: a manual registration never merges into it. Check in Canvas (Admin > Developer Keys) "
        "which key this client id is. If that registration is not yours, delete it in the admin (Platforms) "
        "or run again with --replace-dynamic; if it is yours, add the API token in the admin instead."
    )


def platform_upsert(
    *,
    issuer: str,
    client_id: str,
    deployment_ids: Iterable[str],
    api_base_url: str = "",
    api_token: str = "",
    name: str = "",
    auth_login_url: str | None = None,
    auth_token_url: str | None = None,
    keyset_url: str | None = None,
    replace_dynamic: bool = False,
) -> Platform:
    """Create or update a manual registration (issuer + client_id) and make sure its deployments exist.

    Idempotent. Omitted endpoints get the hosted-Canvas defaults on creation and are left alone on
    update; an empty api_token never erases a stored one. Deployments are only ever added.

    A row made by dynamic registration is never merged into: anyone could have started it, with
    key set and login URLs of their own. Raises PlatformConflict, unless `replace_dynamic`: then a
    registration nobody launched from is deleted and created anew from these values only (one
    that has courses is refused: its data would be mixed with the real Canvas's).
    """
    issuer = issuer.strip().rstrip("/")
    client_id = client_id.strip()
    if not issuer or not client_id:
        raise ValueError("issuer and client_id are required")
    api_base_url = api_base_url.strip().rstrip("/")
    with transaction.atomic():
        existing = Platform.objects.select_for_update().filter(issuer=issuer, client_id=client_id).first()
        if existing is not None and existing.registered_via == "dynamic":
            if not replace_dynamic:
                raise PlatformConflict(_platform_conflict_message(existing))
            if existing.courses.exists():
                raise PlatformConflict(
                    f"client id {client_id} of {issuer} is a dynamic registration that courses were launched "
                    "from: it is not replaced. Edit it in the admin (Platforms) instead."
                )
            logger.warning("lti platform %s: dynamic registration replaced by a manual one", existing)
            existing.delete()
            existing = None
        created = existing is None
        if existing is None:
            platform = Platform(issuer=issuer, client_id=client_id, registered_via="manual")
            platform.auth_login_url = auth_login_url or CANVAS_AUTH_LOGIN_URL
            platform.keyset_url = keyset_url or CANVAS_KEYSET_URL
            platform.auth_token_url = auth_token_url or canvas_token_url(api_base_url)
        else:
            platform = existing
            if auth_login_url:
                platform.auth_login_url = auth_login_url
            if keyset_url:
                platform.keyset_url = keyset_url
            if auth_token_url:
                platform.auth_token_url = auth_token_url
            elif api_base_url and not platform.auth_token_url:
                platform.auth_token_url = canvas_token_url(api_base_url)
        if api_base_url:
            platform.api_base_url = api_base_url
            platform.api_base_url_source = Platform.SOURCE_MANUAL
        if api_token:
            platform.api_token = api_token
        if name:
            platform.name = name
        elif not platform.name:
            platform.name = platform.api_base_url.split("//")[-1] or issuer.split("//")[-1]
        _platform_endpoints_check(platform)
        platform.save()
        for deployment_id in deployment_ids:
            deployment_id = deployment_id.strip()
            if deployment_id:
                Deployment.objects.get_or_create(platform=platform, deployment_id=deployment_id)
        # Pages may be framed by registered platforms only; that list is cached (CSP middleware).
        transaction.on_commit(_frame_ancestors_forget)
    logger.info(
        "lti platform %s: %s client_id=%s", "created" if created else "updated", platform.issuer, platform.client_id
    )
    return platform


def platform_create_registered(
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    api_base_url: str,
    name: str,
    auth_login_url: str,
    auth_token_url: str,
    keyset_url: str,
    requested_ip: str | None,
    requested_with: str,
    invite: RegistrationInvite | None = None,
) -> Platform:
    """Records a dynamic registration: pending until an admin approves it, or approved at once when
    it came through an unused, unexpired invite (which is then used up). Never touches an existing
    registration (raises Refused "registration_exists"); bounded by LTI_PENDING_REGISTRATIONS_MAX."""
    issuer = issuer.strip().rstrip("/")
    with transaction.atomic():
        if Platform.objects.filter(issuer=issuer, client_id=client_id).exists():
            raise Refused("registration_exists", f"{issuer} client_id={client_id} is already registered")
        now = timezone.now()
        if invite is not None:
            invite = RegistrationInvite.objects.select_for_update().filter(pk=invite.pk, used_at__isnull=True).first()
            if invite is None or invite.expires_at <= now:
                raise Refused("invite_invalid", "the registration link was used or has expired meanwhile")
        elif platforms_pending_full():
            raise Refused("registrations_full", "too many registrations wait for approval")
        platform = Platform(
            issuer=issuer,
            client_id=client_id,
            api_base_url=api_base_url.rstrip("/"),
            api_base_url_source=Platform.SOURCE_REGISTRATION if api_base_url else Platform.SOURCE_MANUAL,
            name=name[:200],
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            keyset_url=keyset_url,
            registered_via="dynamic",
            # Canvas creates the deployment after registration without telling the tool.
            accept_new_deployments=not deployment_id,
            status=Platform.STATUS_APPROVED if invite else Platform.STATUS_PENDING,
            requested_ip=requested_ip or None,
            requested_with=requested_with[:200],
            approved_at=now if invite else None,
            approved_by=f"invite: {invite.note} (by {invite.created_by})"[:150] if invite else "",
        )
        _platform_endpoints_check(platform)
        platform.save()
        if deployment_id:
            Deployment.objects.create(platform=platform, deployment_id=deployment_id)
        if invite is not None:
            RegistrationInvite.objects.filter(pk=invite.pk).update(used_at=now, platform=platform)
            transaction.on_commit(_frame_ancestors_forget)
    return platform


def platforms_pending_full() -> bool:
    """Old pending registrations expire (deleted here); the rest are capped, so an anonymous
    caller cannot grow the table or the admin's review queue without bound."""
    platforms_pending_purge()
    return Platform.objects.filter(status=Platform.STATUS_PENDING).count() >= settings.LTI_PENDING_REGISTRATIONS_MAX


def platforms_pending_purge() -> int:
    """Deletes registrations still pending after LTI_PENDING_REGISTRATION_DAYS; returns how many."""
    cutoff = timezone.now() - timedelta(days=settings.LTI_PENDING_REGISTRATION_DAYS)
    deleted, _ = Platform.objects.filter(status=Platform.STATUS_PENDING, created_at__lt=cutoff).delete()
    return deleted


def platform_approve(*, platform: Platform, approved_by: str) -> Platform:
    """An admin approves a pending registration: from now on it is trusted (launches, logins, CSP,
    Live Events). Approving an approved platform changes nothing."""
    with transaction.atomic():
        platform = Platform.objects.select_for_update().get(pk=platform.pk)
        if platform.status == Platform.STATUS_APPROVED:
            return platform
        platform.status = Platform.STATUS_APPROVED
        platform.approved_at = timezone.now()
        platform.approved_by = approved_by[:150]
        platform.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
        transaction.on_commit(_frame_ancestors_forget)
    logger.info("lti platform %s approved by %s", platform, approved_by)
    return platform


def _invite_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def registration_invite_create(*, note: str, created_by: str, days: int = 7) -> tuple[RegistrationInvite, str]:
    """A one-time registration link's invite and its secret token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(24)
    invite = RegistrationInvite.objects.create(
        token_hash=_invite_hash(token),
        note=note,
        created_by=created_by[:150],
        expires_at=timezone.now() + timedelta(days=days),
    )
    return invite, token


def registration_invite_find(*, token: str) -> RegistrationInvite:
    """The unused, unexpired invite of this token; raises Refused "invite_invalid" otherwise."""
    invite = RegistrationInvite.objects.filter(token_hash=_invite_hash(token), used_at__isnull=True).first()
    if invite is None or invite.expires_at <= timezone.now():
        raise Refused("invite_invalid", "unknown, used or expired registration link")
    return invite


def _frame_ancestors_forget() -> None:
    from django.core.cache import cache

    from skillsforward.middleware import FRAME_ANCESTORS_CACHE_KEY

    cache.delete(FRAME_ANCESTORS_CACHE_KEY)


def deployment_record(*, platform: Platform, deployment_id: str) -> Deployment:
    """The deployment row; created only when the platform accepts new deployments (else DoesNotExist)."""
    deployment = Deployment.objects.filter(platform=platform, deployment_id=deployment_id, active=True).first()
    if deployment is not None:
        return deployment
    if not platform.accept_new_deployments:
        raise Deployment.DoesNotExist(deployment_id)
    deployment, created = Deployment.objects.get_or_create(platform=platform, deployment_id=deployment_id)
    if created:
        logger.info("lti deployment %s recorded for %s at its first launch", deployment_id, platform)
    return deployment


# --- Our signing keys -------------------------------------------------------------------------------


def _tool_key_create() -> ToolKey:
    jwk = JWK.generate(kty="RSA", size=TOOL_KEY_BITS)
    kid = jwk.thumbprint()  # RFC 7638: the same kid pylti1p3 derives from the PEM for its assertions
    public = jwk.export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    pem = jwk.export_to_pem(private_key=True, password=None).decode()
    return ToolKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public)


def tool_key_current() -> ToolKey:
    """The key that signs now (the newest not superseded); the first one is created on demand."""
    key = ToolKey.objects.filter(superseded_at__isnull=True).order_by("-created_at", "-id").first()
    if key is None:
        key = _tool_key_create()
        logger.info("lti tool key %s created (no key existed)", key.kid)
    return key


@dataclass(frozen=True)
class KeyRotation:
    new_key: ToolKey
    superseded: list[str]
    retired: list[str]
    grace_days: int


def tool_key_rotate(*, grace_days: int | None = None) -> KeyRotation:
    """Adds a new signing key; old keys stay published for the grace period, then are deleted.

    Canvas caches our JWKS, so the superseded key must still verify assertions signed just before
    the rotation; `retire_after` bounds that window.
    """
    if grace_days is None:
        grace_days = settings.LTI_KEY_ROTATION_GRACE_DAYS
    grace = timedelta(days=grace_days)
    now = timezone.now()
    with transaction.atomic():
        retired = list(ToolKey.objects.filter(retire_after__lte=now).values_list("kid", flat=True))
        ToolKey.objects.filter(retire_after__lte=now).delete()
        old = list(ToolKey.objects.select_for_update().filter(superseded_at__isnull=True))
        new_key = _tool_key_create()
        ToolKey.objects.filter(pk__in=[k.pk for k in old]).update(superseded_at=now, retire_after=now + grace)
    logger.info("lti tool key rotated: new %s, superseded %s, retired %s", new_key.kid, [k.kid for k in old], retired)
    return KeyRotation(new_key=new_key, superseded=[k.kid for k in old], retired=retired, grace_days=grace_days)


# --- Courses and people -----------------------------------------------------------------------------


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
    with transaction.atomic():
        try:
            deployment = deployment_record(platform=platform, deployment_id=deployment_id)
        except Deployment.DoesNotExist as exc:
            raise Refused("unknown_deployment", f"{deployment_id!r} for {platform}") from exc
        person = _launch_person(platform=platform, parsed=parsed)
        platform_api_base_url_record(platform=platform, launched=parsed.api_base_url)
        platform_guid_record(platform=platform, claims=claims)
        context = launch_context_create(
            platform=platform,
            deployment=deployment,
            course=None,
            person=person,
            decision=RoleDecision(role=LaunchContext.ROLE_LEARNER),
            roles=parsed.roles,
            email=parsed.email,
            locale=parsed.locale,
        )
    logger.info(
        "lti launch: %s to My badges (%s, %s)", person.canvas_user_id, parsed.placement or "no course", platform
    )
    return context


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
    with transaction.atomic():
        try:
            deployment = deployment_record(platform=platform, deployment_id=deployment_id)
        except Deployment.DoesNotExist as exc:
            raise Refused("unknown_deployment", f"{deployment_id!r} for {platform}") from exc
        course = _launch_course(platform=platform, parsed=parsed)
        person = _launch_person(platform=platform, parsed=parsed)
        platform_api_base_url_record(platform=platform, launched=parsed.api_base_url)
        platform_guid_record(platform=platform, claims=claims)
        context = launch_context_create(
            platform=platform,
            deployment=deployment,
            course=course,
            person=person,
            decision=decision,
            roles=parsed.roles,
            email=parsed.email,
            locale=parsed.locale,
        )
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
