"""LTI endpoints: OIDC login, launch, our JWKS, the Canvas developer-key JSON, dynamic registration.

Views only translate HTTP: the checks live in lti.adapter, the writes in lti.services.
"""

import logging
from urllib.parse import urlencode, urlsplit

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from lti import config, selectors
from lti.adapter import oidc
from lti.claims import claims_parse
from lti.errors import Refused
from lti.launch import launch_cookie_set
from lti.registration import platform_register_dynamic
from lti.services.launches import launch_record
from lti.services.tool_keys import tool_key_current
from skillsforward.i18n import language_for
from skillsforward.middleware import content_security_policy
from skillsforward.ratelimit import client_address, rate_limit_exceeded

logger = logging.getLogger(__name__)

REGISTRATIONS_PER_CLIENT = 10


def refused_page(request, refusal: Refused, *, stage: str):
    logger.warning("lti %s refused (%s): %s", stage, refusal.code, refusal.detail)
    context = refusal.page_context()
    if refusal.code == "cookies_blocked":
        params = oidc.login_params_for_state(context.get("state", ""))
        if params:
            context["new_window_url"] = reverse("lti:login") + "?" + urlencode({**params, "lti1p3_new_window": "1"})
    response = render(request, "lti/error.html", context, status=refusal.status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # a cross-site form post from Canvas: OIDC state and the signed id_token protect it
@never_cache
@require_http_methods(["GET", "POST"])
def login(request):
    launch_url = config.tool_urls(config.tool_base_url(request))["launch"]
    try:
        return oidc.oidc_login(request, launch_url=launch_url)
    except Refused as refusal:
        return refused_page(request, refusal, stage="login")


@csrf_exempt  # the id_token is the proof; Canvas posts it from another site
@never_cache
@require_http_methods(["GET", "POST"])
def launch(request):
    try:
        validated = oidc.launch_validate(request)
    except Refused as refusal:
        return refused_page(request, refusal, stage="launch")
    try:
        context = launch_record(
            platform=validated.platform, deployment_id=validated.deployment_id, claims=validated.claims
        )
    except Refused as refusal:
        # The launch is verified: its refusal is in the user's Canvas language, as its pages would be.
        language = language_for(claims_parse(validated.claims).locale)
        if language:
            translation.activate(language)
        return refused_page(request, refusal, stage="launch")
    home = "badging:my_badges" if context.is_backpack else "badging:launch_home"
    response = redirect(reverse(home, args=[context.public_id]))
    launch_cookie_set(
        response,
        launch=context,
        browser_key=context.browser_key,  # type: ignore[attr-defined]  # set when the launch is recorded
        secure=request.is_secure(),
    )
    # The state cookie has served its purpose.
    response.delete_cookie(oidc.COOKIE_PREFIX + validated.state, samesite="None" if request.is_secure() else None)
    return response


@require_GET
def jwks(request):
    tool_key_current()  # a fresh install publishes its first key
    response = JsonResponse(selectors.tool_jwks())
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def config_json(request):
    return JsonResponse(
        config.developer_key_json(base_url=config.tool_base_url(request)), json_dumps_params={"indent": 2}
    )


def _frameable_by_registering_platform(response, openid_configuration: str):
    """Canvas shows the registration page in its own iframe before it is a registered platform, so
    the site-wide frame-ancestors (registered platforms only) would blank it. The page has no
    controls to click, so letting any https site (and the registering host) frame it is harmless."""
    parts = urlsplit(openid_configuration)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    ancestors = ["'self'", "https:", *([origin] if origin else [])]
    response["Content-Security-Policy"] = content_security_policy(frame_ancestors=ancestors, form_action="'self'")
    response.xframe_options_exempt = True
    # Platforms that open registration in a popup need window.opener to survive.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


@never_cache
@require_GET
def register(request, invite: str = ""):
    openid_configuration = request.GET.get("openid_configuration", "")
    if not openid_configuration:
        response = refused_page(
            request, Refused("missing_parameters", "no openid_configuration"), stage="dynamic registration"
        )
        return _frameable_by_registering_platform(response, "")
    # Each attempt makes this server fetch URLs the caller chose: a handful per client is plenty.
    if rate_limit_exceeded(
        key=f"lti:register:{client_address(request)}", limit=REGISTRATIONS_PER_CLIENT, window_seconds=3600
    ):
        response = refused_page(
            request, Refused("rate_limited", "too many registration attempts"), stage="dynamic registration"
        )
        response["Retry-After"] = "3600"
        return _frameable_by_registering_platform(response, openid_configuration)
    try:
        result = platform_register_dynamic(
            openid_configuration_url=openid_configuration,
            registration_token=request.GET.get("registration_token", ""),
            base_url=config.tool_base_url(request),
            requested_ip=client_address(request) or None,
            requested_with=request.META.get("HTTP_USER_AGENT", "")[:200],
            invite_token=invite,
        )
    except Refused as refusal:
        response = refused_page(request, refusal, stage="dynamic registration")
    else:
        response = render(
            request, "lti/registered.html", {"platform": result.platform, "deployment_id": result.deployment_id}
        )
    return _frameable_by_registering_platform(response, openid_configuration)
