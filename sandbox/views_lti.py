"""LTI 1.3 platform endpoints: JWKS, OIDC authorization (form_post launch), token, NRPS."""

import json
import time
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import dynamic_registration, platform
from sandbox.api.pipeline import bearer_token
from sandbox.models import PlatformKey, SandboxCourse, SandboxEnrollment, SandboxInstance, SandboxUser
from sandbox.platform import PlatformError
from sandbox.services.keys import platform_key_current


@require_GET
def jwks(request: HttpRequest, instance: str) -> JsonResponse:
    """The platform's public keys: current and previous (after a rotation), as Canvas publishes them."""
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    platform_key_current(instance=sandbox)
    keys = PlatformKey.objects.filter(instance=sandbox, status__in=[PlatformKey.CURRENT, PlatformKey.PREVIOUS])
    response = JsonResponse({"keys": [k.public_jwk for k in keys]})
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def live_events_jwks(request: HttpRequest) -> JsonResponse:
    """The Live Events signing keys (previous, current, next), shared by every instance."""
    from sandbox.services.keys import live_events_keys_published

    response = JsonResponse({"keys": live_events_keys_published()})
    response["Cache-Control"] = "max-age=300"
    return response


def _error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "sandbox/lti_error.html", {"message": message}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, instance: str) -> HttpResponse:
    """OIDC authentication request (LTI 1.3 core §5.1.1): checks it and form_posts the id_token.

    Errors before the redirect_uri is trusted are shown here; after it, they are posted back to the
    tool as OIDC error responses, as the spec requires.
    """
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    params = request.POST if request.method == "POST" else request.GET
    if params.get("client_id") != sandbox.client_id:
        return _error_page(request, f"Unknown client_id {params.get('client_id')!r} for this Canvas.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri != sandbox.tool_launch_url:
        return _error_page(request, f"redirect_uri {redirect_uri!r} is not registered for this developer key.")
    state = params.get("state", "")

    def post_back(fields: dict) -> HttpResponse:
        if state:
            fields["state"] = state
        return render(request, "sandbox/form_post.html", {"action": redirect_uri, "fields": fields.items()})

    if "openid" not in params.get("scope", "").split() or params.get("response_type") != "id_token":
        return post_back({"error": "invalid_request", "error_description": "scope=openid and response_type=id_token"})
    if params.get("response_mode") != "form_post":
        return post_back({"error": "invalid_request", "error_description": "response_mode must be form_post"})
    nonce = params.get("nonce", "")
    if not nonce:
        return post_back({"error": "invalid_request", "error_description": "nonce is required"})
    try:
        user_id, course_id = platform.launch_hint_read(params.get("lti_message_hint", ""))
    except PlatformError as exc:
        return post_back({"error": "invalid_request", "error_description": str(exc)})
    if params.get("login_hint") != str(user_id):
        return post_back({"error": "login_required", "error_description": "login_hint does not match the user"})
    user = SandboxUser.objects.filter(instance=sandbox, id=user_id).first()
    # Course id 0: launched from the user navigation (the Account tray), outside any course.
    course = SandboxCourse.objects.filter(instance=sandbox, id=course_id).first() if course_id else None
    if user is None or (course is None and course_id):
        return post_back({"error": "login_required", "error_description": "unknown user or course"})
    claims = platform.id_token_claims(
        instance=sandbox, user=user, course=course, nonce=nonce, target_link_uri=sandbox.tool_launch_url
    )
    fields = {"id_token": platform.id_token_sign(instance=sandbox, claims=claims)}
    if params.get("lti_storage_target"):
        fields["lti_storage_target"] = params["lti_storage_target"]
    return post_back(fields)


def _registration_token(request: HttpRequest) -> str:
    return bearer_token(request) or request.GET.get("registration_token", "")


@require_GET
def openid_configuration(request: HttpRequest, instance: str) -> JsonResponse:
    """The OpenID configuration a registering tool reads (only with a valid registration token)."""
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    try:
        dynamic_registration.registration_token_read(instance=sandbox, token=_registration_token(request))
    except PlatformError as exc:
        return JsonResponse({"errorMessage": str(exc)}, status=401)
    return JsonResponse(dynamic_registration.openid_configuration(instance=sandbox))


@csrf_exempt
@require_POST
def registrations(request: HttpRequest, instance: str) -> JsonResponse:
    """The tool's registration request (Bearer registration token): installs it, answers its client id."""
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    try:
        dynamic_registration.registration_token_read(instance=sandbox, token=bearer_token(request) or "")
    except PlatformError as exc:
        return JsonResponse({"errorMessage": str(exc)}, status=401)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        answer = dynamic_registration.registration_create(instance=sandbox, body=body)
    except (ValueError, PlatformError) as exc:
        return JsonResponse({"errors": [{"message": str(exc)}]}, status=422)
    return JsonResponse(answer)


def _oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@csrf_exempt
@require_POST
def token(request: HttpRequest, instance: str) -> JsonResponse:
    """OAuth2 client_credentials grant with a JWT client assertion (LTI Security Framework §4.1)."""
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    if request.POST.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "only client_credentials is supported here")
    if request.POST.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
        return _oauth_error("invalid_request", "client_assertion_type must be jwt-bearer")
    try:
        platform.client_assertion_verify(instance=sandbox, assertion=request.POST.get("client_assertion", ""))
    except PlatformError as exc:
        return _oauth_error("invalid_client", str(exc), status=401)
    requested = request.POST.get("scope", "").split()
    granted = [s for s in requested if s in platform.LTI_SCOPES]
    if not granted:
        return _oauth_error("invalid_scope", "none of the requested scopes is available to this tool")
    return JsonResponse(
        {
            "access_token": platform.access_token_make(instance=sandbox, scopes=granted),
            "token_type": "Bearer",
            "expires_in": platform.ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(granted),
        }
    )


NRPS_STATUS = {"active": "Active", "invited": "Active", "completed": "Inactive", "inactive": "Inactive"}


@require_GET
def names_and_roles(request: HttpRequest, instance: str, course_id: int) -> JsonResponse:
    """NRPS 2.0 membership container, paged with `limit` and Link rel=next."""
    sandbox = get_object_or_404(SandboxInstance, slug=instance)
    token = bearer_token(request)
    access = platform.access_token_read(token) if token else None
    if access is None or access.instance_id != sandbox.id or platform.NRPS_SCOPE not in access.scopes:
        return JsonResponse(
            {"errors": {"type": "unauthorized", "message": "Invalid access token or missing NRPS scope"}}, status=401
        )
    course = get_object_or_404(SandboxCourse, instance=sandbox, id=course_id)
    try:
        limit = max(1, min(int(request.GET.get("limit", 50)), 100))
        after = int(request.GET.get("after", 0))
    except ValueError:
        return JsonResponse({"errors": {"type": "bad_request", "message": "limit and after are numbers"}}, status=400)
    enrollments = (
        SandboxEnrollment.objects.filter(course=course)
        .exclude(workflow_state="deleted")
        .exclude(type="StudentViewEnrollment")
    )
    users = list(
        SandboxUser.objects.filter(id__in=enrollments.values("user_id"), id__gt=after)
        .prefetch_related("channels")
        .order_by("id")[: limit + 1]
    )
    more = len(users) > limit
    users = users[:limit]
    by_user: dict[int, list[SandboxEnrollment]] = {}
    for e in enrollments.filter(user_id__in=[u.id for u in users]):
        by_user.setdefault(e.user_id, []).append(e)
    members = []
    for user in users:
        mine = by_user.get(user.id, [])
        given, _, family = user.name.partition(" ")
        members.append(
            {
                "status": "Active" if any(NRPS_STATUS[e.workflow_state] == "Active" for e in mine) else "Inactive",
                "name": user.name,
                "picture": None,
                "given_name": given,
                "family_name": family,
                "email": user.primary_email,
                "user_id": user.lti_sub,
                "lti11_legacy_user_id": None,
                "roles": [r for r in platform.launch_roles(user=user, enrollments=mine) if "/membership" in r],
            }
        )
    url = sandbox.nrps_url(course.id)
    response = JsonResponse(
        {
            "id": url,
            "context": {"id": course.lti_context_id, "label": course.course_code, "title": course.name},
            "members": members,
        },
        content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        json_dumps_params={"ensure_ascii": False},
    )
    if more:
        response["Link"] = f'<{url}?{urlencode({"limit": limit, "after": users[-1].id})}>; rel="next"'
    return response


def launch_form_fields(*, instance: SandboxInstance, user: SandboxUser, course: SandboxCourse | None) -> dict:
    """The third-party login initiation Canvas POSTs to the tool (LTI 1.3 core §4.1)."""
    return {
        "iss": instance.issuer,
        "login_hint": str(user.id),
        "target_link_uri": instance.tool_launch_url,
        "lti_message_hint": platform.launch_hint_make(user=user, course=course),
        "client_id": instance.client_id,
        "lti_deployment_id": instance.deployment_id,
        "canvas_region": "not_configured",
        "canvas_environment": "prod",
        "issued_at": str(int(time.time())),
    }
