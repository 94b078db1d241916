"""The sandbox as an LTI 1.3 platform, the way Canvas does it (reference lti-canvas.md §B1).

- `launch_hint_make` / `launch_hint_read`: the lti_message_hint Canvas sends at login, here a
  signed (user, course) pair valid for five minutes.
- `id_token_claims` / `id_token_sign`: the id_token Canvas posts to the tool's launch URL.
- `client_assertion_verify`: the tool's client_credentials JWT, checked against its JWKS URL.
- `access_token_make` / `access_token_read`: LTI service tokens (NRPS), stateless and signed.

Dynamic registration (the OpenID configuration and registering a tool by URL) is in
sandbox.dynamic_registration.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt
import requests
from django.core import signing
from django.core.cache import cache

from sandbox.models import (
    DEFAULT_CUSTOM_FIELDS,
    GRADER_TYPES,
    STUDENT_TYPES,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
)
from sandbox.services.keys import platform_key_current

LIS = "http://purl.imsglobal.org/vocab/lis/v2"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
# The LTI Advantage scopes Canvas grants to client_credentials tokens (no /api/v1 access).
LTI_SCOPES = {
    NRPS_SCOPE,
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
}
ID_TOKEN_LIFETIME = 3600
HINT_MAX_AGE = 300
ACCESS_TOKEN_LIFETIME = 3600
HINT_SALT = "sandbox.lti_message_hint"
ACCESS_SALT = "sandbox.lti_access_token"

ENROLLMENT_ROLES = {
    "StudentEnrollment": [f"{LIS}/membership#Learner"],
    "TeacherEnrollment": [f"{LIS}/membership#Instructor"],
    "TaEnrollment": [f"{LIS}/membership/Instructor#TeachingAssistant", f"{LIS}/membership#Instructor"],
    "DesignerEnrollment": [f"{LIS}/membership#ContentDeveloper"],
    "StudentViewEnrollment": [f"{LIS}/membership#Learner"],
}


class PlatformError(ValueError):
    """An LTI request the platform refuses; the message says why (shown as a 400 page or JSON)."""


def launch_hint_make(*, user: SandboxUser, course: SandboxCourse | None) -> str:
    """The hint of a course navigation launch, or (course None) of the user navigation's."""
    return signing.dumps({"u": user.id, "c": course.id if course else 0}, salt=HINT_SALT, compress=True)


def launch_hint_read(hint: str) -> tuple[int, int]:
    """(user id, course id); course id 0 is a user navigation launch."""
    try:
        data = signing.loads(hint, salt=HINT_SALT, max_age=HINT_MAX_AGE)
    except signing.SignatureExpired:
        raise PlatformError("the launch has expired: click the course navigation link again")
    except signing.BadSignature:
        raise PlatformError("lti_message_hint is not valid")
    return int(data["u"]), int(data["c"])


# $Canvas.membership.concludedRoles lists concluded enrollments in Canvas's LTI 1.1 role names
# (canvas-lms lib/lti/substitutions_helper.rb concluded_lis_roles → Lti::LtiUserCreator::ENROLLMENT_MAP,
# gems/lti_outbound/lib/lti_outbound/lti_roles.rb ContextNotNamespaced), "…/None" when there are none.
CONCLUDED_ROLE_NAMES = {
    "StudentEnrollment": "Learner",
    "TeacherEnrollment": "Instructor",
    "TaEnrollment": "urn:lti:role:ims/lis/TeachingAssistant",
    "DesignerEnrollment": "ContentDeveloper",
    "StudentViewEnrollment": "Learner",
}
NO_CONCLUDED_ROLE = "urn:lti:sysrole:ims/lis/None"
# Canvas's current_enrollments: a concluded (completed) enrollment gives no course role.
CURRENT_ENROLLMENT_STATES = ("active", "invited")


def concluded_roles(enrollments: list[SandboxEnrollment]) -> str:
    names: list[str] = []
    for enrollment in enrollments:
        name = CONCLUDED_ROLE_NAMES.get(enrollment.type)
        if enrollment.workflow_state == "completed" and name and name not in names:
            names.append(name)
    return ",".join(names) or NO_CONCLUDED_ROLE


def launch_roles(*, user: SandboxUser, enrollments: list[SandboxEnrollment]) -> list[str]:
    """The role URIs Canvas sends (lib/lti/substitutions_helper.rb), course roles first: course roles
    for current enrollments only (course_enrollments reads @context.current_enrollments)."""
    roles: list[str] = []
    for enrollment in enrollments:
        if enrollment.workflow_state not in CURRENT_ENROLLMENT_STATES:
            continue
        for role in ENROLLMENT_ROLES.get(enrollment.type, []):
            if role not in roles:
                roles.append(role)
    types = {e.type for e in enrollments}
    if user.is_account_admin:
        roles.append(f"{LIS}/institution/person#Administrator")
    if types & set(GRADER_TYPES):
        roles.append(f"{LIS}/institution/person#Instructor")
    if types & set(STUDENT_TYPES):
        roles.append(f"{LIS}/institution/person#Student")
    roles.append("http://purl.imsglobal.org/vocab/lti/system/person#User")
    if user.is_test_user:
        roles.append("http://purl.imsglobal.org/vocab/lti/system/person#TestUser")
    if user.is_account_admin:
        roles.append(f"{LIS}/system/person#SysAdmin")
    return roles


def user_context_id(*, user: SandboxUser) -> str:
    """The opaque context id Canvas gives a user context (Lti::Asset.opaque_identifier_for(user))."""
    return hashlib.sha1(f"user:{user.instance_id}:{user.id}".encode(), usedforsecurity=False).hexdigest()


def custom_substitute(
    *,
    instance: SandboxInstance,
    user: SandboxUser,
    course: SandboxCourse | None,
    enrollments: list[SandboxEnrollment] | None = None,
) -> dict[str, str]:
    """Custom fields with Canvas variable substitutions; an unknown variable stays literal, as in Canvas.

    Without a course (user navigation) the course variables stay literal: Canvas's expander only
    fills them when the launch context is a course (lib/lti/variable_expander.rb COURSE_GUARD)."""
    values = {
        "$Canvas.user.id": str(user.id),
        "$Canvas.api.baseUrl": instance.root_url,
        "$Canvas.api.domain": instance.root_url.split("://", 1)[-1].split("/", 1)[0],
        "$Person.email.primary": user.primary_email,
        "$Person.name.full": user.name,
        "$Canvas.user.loginId": user.login_id,
        "$Context.id": course.lti_context_id if course else user_context_id(user=user),
    }
    if course is not None:
        values.update(
            {
                "$Canvas.membership.concludedRoles": concluded_roles(enrollments or []),
                "$Canvas.course.id": str(course.id),
                "$Canvas.course.workflowState": course.workflow_state,
            }
        )
    fields = instance.tool_custom_fields or DEFAULT_CUSTOM_FIELDS
    return {name: values.get(str(value), str(value)) for name, value in fields.items()}


def user_navigation_claims(*, instance: SandboxInstance, user: SandboxUser, claims: dict) -> dict:
    """A course launch's claims turned into a user navigation launch's (the user's Account tray).

    Canvas launches it with the user as the context (users_controller.rb external_tool: @context =
    @current_user), so the context claim names the User (lib/lti/messages/jwt_message.rb
    add_context_claims!: id = opaque id, title = name, type = class name), there is no course role,
    no Names and Roles service (only for courses and groups), and course variables stay literal.
    """
    context_id = user_context_id(user=user)
    every = list(SandboxEnrollment.objects.filter(user=user).exclude(workflow_state__in=["deleted", "inactive"]))
    claims = {k: v for k, v in claims.items() if k != NRPS_CLAIM}
    claims[f"{CLAIM}/context"] = {"id": context_id, "title": user.name, "type": ["User"]}
    claims[f"{CLAIM}/resource_link"] = {"id": context_id, "description": None, "title": instance.tool_name}
    claims[f"{CLAIM}/roles"] = [r for r in launch_roles(user=user, enrollments=every) if "/membership" not in r]
    claims[f"{CLAIM}/custom"] = custom_substitute(instance=instance, user=user, course=None)
    claims[f"{CLAIM}/launch_presentation"] = {
        **claims[f"{CLAIM}/launch_presentation"],
        "return_url": f"{instance.root_url}/profile",
    }
    claims["https://www.instructure.com/placement"] = "user_navigation"
    return claims


def id_token_claims(
    *,
    instance: SandboxInstance,
    user: SandboxUser,
    course: SandboxCourse | None,
    nonce: str,
    target_link_uri: str,
    now: int | None = None,
) -> dict:
    """The id_token of a course navigation launch, or (course None) of a user navigation launch."""
    if course is None:
        # Built as a course launch in no course, then given the user context.
        placeholder = SandboxCourse(instance=instance, id=0, name="", course_code="", lti_context_id="")
        base = id_token_claims(
            instance=instance, user=user, course=placeholder, nonce=nonce, target_link_uri=target_link_uri, now=now
        )
        return user_navigation_claims(instance=instance, user=user, claims=base)
    now = int(now if now is not None else time.time())
    enrollments = (
        list(
            SandboxEnrollment.objects.filter(course=course, user=user).exclude(
                workflow_state__in=["deleted", "inactive"]
            )
        )
        if course.pk
        else []
    )
    given, _, family = user.name.partition(" ")
    return {
        "iss": instance.issuer,
        "aud": instance.client_id,
        "azp": instance.client_id,
        "sub": user.lti_sub,
        "nonce": nonce,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "email": user.primary_email,
        "picture": f"{instance.base_url.rstrip('/')}/static/sandbox/img/avatar-50.png",
        "locale": user.locale or "en",
        f"{CLAIM}/message_type": "LtiResourceLinkRequest",
        f"{CLAIM}/version": "1.3.0",
        f"{CLAIM}/deployment_id": instance.deployment_id,
        f"{CLAIM}/target_link_uri": target_link_uri,
        # Course navigation launches use the course's context id as the resource link id.
        f"{CLAIM}/resource_link": {"id": course.lti_context_id, "description": None, "title": course.name},
        f"{CLAIM}/context": {
            "id": course.lti_context_id,
            "label": course.course_code,
            "title": course.name,
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        },
        f"{CLAIM}/tool_platform": {
            "guid": instance.lti_guid,
            "name": instance.name,
            "version": "cloud",
            "product_family_code": "canvas",
        },
        f"{CLAIM}/launch_presentation": {
            "document_target": "iframe",
            "return_url": f"{instance.root_url}/courses/{course.id}/",
            "locale": user.locale or "en",
            "height": 600,
            "width": 800,
        },
        f"{CLAIM}/roles": launch_roles(user=user, enrollments=enrollments),
        f"{CLAIM}/custom": custom_substitute(instance=instance, user=user, course=course, enrollments=enrollments),
        f"{CLAIM}/lti11_legacy_user_id": hashlib.sha1(
            f"{instance.id}:{user.id}".encode(), usedforsecurity=False
        ).hexdigest(),
        f"{CLAIM}/lis": {"person_sourcedid": user.sis_user_id or None, "course_offering_sourcedid": None},
        NRPS_CLAIM: {
            "context_memberships_url": instance.nrps_url(course.id),
            "service_versions": ["2.0"],
        },
        "https://www.instructure.com/placement": "course_navigation",
    }


def id_token_sign(*, instance: SandboxInstance, claims: dict) -> str:
    key = platform_key_current(instance=instance)
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})


def _tool_jwks(instance: SandboxInstance, *, refresh: bool = False) -> dict:
    cache_key = f"sandbox:tool-jwks:{instance.id}"
    keys = None if refresh else cache.get(cache_key)
    if keys is None:
        try:
            response = requests.get(instance.tool_jwks_url, timeout=10)
            response.raise_for_status()
            keys = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise PlatformError(f"the tool's JWKS could not be read from {instance.tool_jwks_url}: {exc}")
        cache.set(cache_key, keys, 300)
    return keys


def client_assertion_verify(*, instance: SandboxInstance, assertion: str) -> dict:
    """Checks the tool's client assertion (RFC 7523): signed by a key in its JWKS, iss=sub=client_id,
    aud = our token URL, not expired, jti not seen before. Returns the claims."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise PlatformError("client_assertion is not a JWT")
    kid = header.get("kid")
    if header.get("alg") not in ("RS256", "RS384", "RS512"):
        raise PlatformError("client_assertion must be signed with RSA")
    jwks = _tool_jwks(instance)
    match = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not match:  # the tool may have rotated its key since we cached its JWKS
        jwks = _tool_jwks(instance, refresh=True)
        match = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not match:
        raise PlatformError(f"no key with kid {kid!r} in the tool's JWKS")
    public_key = jwt.PyJWK(match[0], algorithm=header["alg"]).key
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=[header["alg"]],
            audience=[instance.auth_token_url, instance.issuer],
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            leeway=5,
        )
    except jwt.InvalidTokenError as exc:
        raise PlatformError(f"client_assertion rejected: {exc}")
    if claims["iss"] != instance.client_id or claims["sub"] != instance.client_id:
        raise PlatformError("client_assertion iss and sub must be the client_id")
    if not cache.add(f"sandbox:jti:{instance.id}:{claims['jti']}", 1, timeout=3600):
        raise PlatformError("client_assertion jti was already used")
    return claims


@dataclass(frozen=True)
class AccessToken:
    instance_id: int
    scopes: frozenset[str]


def access_token_make(*, instance: SandboxInstance, scopes: list[str]) -> str:
    return signing.dumps({"i": instance.id, "s": sorted(scopes), "n": secrets.token_hex(8)}, salt=ACCESS_SALT)


def access_token_read(token: str) -> AccessToken | None:
    try:
        data = signing.loads(token, salt=ACCESS_SALT, max_age=ACCESS_TOKEN_LIFETIME)
    except signing.BadSignature:
        return None
    return AccessToken(instance_id=int(data["i"]), scopes=frozenset(data["s"]))
