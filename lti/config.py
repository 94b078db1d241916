"""How the tool describes itself to Canvas: developer-key JSON and the dynamic-registration request.

Shapes follow Canvas's doc/api/lti_dev_key_config.md and navigation_tools.md (developer key) and
doc/api/registration.md with IMS LTI Dynamic Registration 1.0 §3.5 (registration request).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

# LTI Advantage service scopes the tool asks for: none. Course data comes from the REST API token
# (canvas/), never from NRPS or AGS, and a scope nobody uses is a permission nobody should grant.
SCOPES: list[str] = []
TOOL_ID = "skills-forward-badges"
DESCRIPTION = (
    "Shows each learner their progress on the course's credentialing assessments and issues an "
    "Open Badges micro-credential once they are mastered and the final grade is entered."
)
# Canvas fills these at launch; values arrive as strings (or unexpanded when unavailable).
CUSTOM_FIELDS = {
    "canvas_user_id": "$Canvas.user.id",
    "canvas_course_id": "$Canvas.course.id",
    "canvas_api_base_url": "$Canvas.api.baseUrl",
    "email": "$Person.email.primary",
    # The LIS roles of the person's concluded enrollments in the course: Canvas sends course roles
    # for current enrollments only, so a learner whose term has ended launches without one.
    "concluded_roles": "$Canvas.membership.concludedRoles",
}
# "My badges": every badge the person holds from this Canvas, reachable without a course. Canvas
# offers navigation placements for the account menu (admins) and the user's Account tray
# (everyone; root-account level only) (canvas-lms doc/api/navigation_tools.md).
MY_BADGES_TEXT = "My badges"
MY_BADGES_PLACEMENTS = ["account_navigation", "user_navigation"]
CLAIMS = ["iss", "sub", "name", "given_name", "family_name", "email", "locale"]


def tool_base_url(request=None) -> str:
    """PUBLIC_BASE_URL when set (behind proxies), else the scheme and host of this request."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is None:
        raise ValueError("PUBLIC_BASE_URL is not set and there is no request to take the host from")
    return f"{request.scheme}://{request.get_host()}"


def tool_urls(base_url: str) -> dict[str, str]:
    return {
        "login": base_url + reverse("lti:login"),
        "launch": base_url + reverse("lti:launch"),
        "jwks": base_url + reverse("lti:jwks"),
        "config": base_url + reverse("lti:config"),
    }


def developer_key_json(*, base_url: str) -> dict:
    """The JSON an administrator pastes into Canvas (Developer Keys → LTI Key → Paste JSON)."""
    urls = tool_urls(base_url)
    title = settings.LTI_TOOL_TITLE
    return {
        "title": title,
        "description": DESCRIPTION,
        "oidc_initiation_url": urls["login"],
        "target_link_uri": urls["launch"],
        "public_jwk_url": urls["jwks"],
        "scopes": list(SCOPES),
        "custom_fields": dict(CUSTOM_FIELDS),
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "domain": urlsplit(base_url).netloc,
                "tool_id": TOOL_ID,
                "privacy_level": "public",
                "settings": {
                    "text": title,
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "text": title,
                            "message_type": "LtiResourceLinkRequest",
                            "target_link_uri": urls["launch"],
                            "enabled": True,
                            "default": "enabled",
                            "visibility": "members",
                        },
                        *[
                            {
                                "placement": placement,
                                "text": MY_BADGES_TEXT,
                                "message_type": "LtiResourceLinkRequest",
                                "target_link_uri": urls["launch"],
                                "enabled": True,
                            }
                            for placement in MY_BADGES_PLACEMENTS
                        ],
                    ],
                },
            }
        ],
    }


def registration_request(*, base_url: str, scopes_supported: list[str] | None = None) -> dict:
    """The tool's LTI Dynamic Registration request body (Canvas dialect)."""
    urls = tool_urls(base_url)
    title = settings.LTI_TOOL_TITLE
    scopes = [s for s in SCOPES if scopes_supported is None or s in scopes_supported]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls["login"],
        "redirect_uris": [urls["launch"]],
        "client_name": title,
        "client_uri": base_url,
        "jwks_uri": urls["jwks"],
        "token_endpoint_auth_method": "private_key_jwt",
        # Present even when empty: Canvas splits it (dynamic_registration_controller.rb `create`).
        "scope": " ".join(scopes),
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": urlsplit(base_url).netloc,
            "description": DESCRIPTION,
            "target_link_uri": urls["launch"],
            "custom_parameters": dict(CUSTOM_FIELDS),
            "claims": list(CLAIMS),
            "messages": [
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": urls["launch"],
                    "label": title,
                    "placements": ["course_navigation"],
                    "https://canvas.instructure.com/lti/course_navigation/default_enabled": True,
                    "https://canvas.instructure.com/lti/visibility": "members",
                },
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": urls["launch"],
                    "label": MY_BADGES_TEXT,
                    "placements": list(MY_BADGES_PLACEMENTS),
                },
            ],
            "https://canvas.instructure.com/lti/privacy_level": "public",
            "https://canvas.instructure.com/lti/tool_id": TOOL_ID,
        },
    }
