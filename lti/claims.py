"""What a verified launch says, in our terms: who, which course, which Canvas ids, which roles.

Canvas sends custom fields as strings, and a substitution it cannot fill arrives unexpanded
(the literal "$Canvas.user.id"): such values count as absent.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
PLACEMENT_CLAIM = "https://www.instructure.com/placement"
NAVIGATION_PLACEMENTS_WITHOUT_COURSE = frozenset({"account_navigation", "user_navigation"})
NON_COURSE_CONTEXT_TYPES = frozenset({"User", "Account"})


def custom_value(custom: dict, key: str) -> str:
    value = custom.get(key)
    if value is None or isinstance(value, (dict, list)):
        return ""
    value = str(value).strip()
    return "" if value.startswith("$") else value


def _email(value: str) -> str:
    value = (value or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


@dataclass(frozen=True)
class LaunchClaims:
    sub: str
    roles: list[str]
    canvas_user_id: str = ""
    canvas_course_id: str = ""
    context_id: str = ""
    context_title: str = ""
    context_label: str = ""
    name: str = ""
    sortable_name: str = ""
    email: str = ""
    api_base_url: str = ""
    locale: str = ""
    concluded_roles: str = ""
    custom: dict = field(default_factory=dict)
    # The context claim's type (["User"], ["Account"], or a course type), and Canvas's placement extension.
    context_type: list[str] = field(default_factory=list)
    placement: str = ""

    @property
    def is_course_launch(self) -> bool:
        """Whether the launch came from a course.

        Account and user navigation launches carry no course (canvas-lms doc/api/navigation_tools.md:
        "This placement does not provide any course or resource level context in the Launch"): Canvas
        fills the context claim with the Account or the User instead (lib/lti/messages/jwt_message.rb
        add_context_claims!, context.type = the class name; users_controller.rb external_tool sets
        @context = @current_user), and $Canvas.course.id stays unexpanded.
        """
        if self.placement in NAVIGATION_PLACEMENTS_WITHOUT_COURSE:
            return False
        if not self.context_id:
            return False
        return not (set(self.context_type) & NON_COURSE_CONTEXT_TYPES and not self.canvas_course_id)


# A BCP 47 language tag as Canvas sends it ("es", "fr-CA", "zh-Hant", "en-GB-x-ukhe").
_LOCALE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def _locale(body: dict) -> str:
    """The user's Canvas language: launch_presentation.locale, else the top-level locale claim.

    Canvas fills both with I18n.locale, the language Canvas itself is shown in for that user
    (canvas-lms lib/lti/messages/jwt_message.rb, add_launch_presentation_claims! and add_i18n_claims!)."""
    presentation = body.get(LTI + "launch_presentation")
    candidates = [presentation.get("locale") if isinstance(presentation, dict) else None, body.get("locale")]
    for value in candidates:
        if isinstance(value, str) and len(value) <= 35 and _LOCALE.match(value.strip()):
            return value.strip()
    return ""


def claims_parse(body: dict) -> LaunchClaims:
    custom = body.get(LTI + "custom") or {}
    if not isinstance(custom, dict):
        custom = {}
    context = body.get(LTI + "context") or {}
    if not isinstance(context, dict):
        context = {}
    roles = body.get(LTI + "roles") or []
    given, family = str(body.get("given_name") or "").strip(), str(body.get("family_name") or "").strip()
    name = str(body.get("name") or "").strip() or " ".join(p for p in (given, family) if p)
    sortable = ", ".join(p for p in (family, given) if p) if family else name
    return LaunchClaims(
        sub=str(body.get("sub") or ""),
        roles=[r for r in roles if isinstance(r, str)] if isinstance(roles, list) else [],
        canvas_user_id=custom_value(custom, "canvas_user_id"),
        canvas_course_id=custom_value(custom, "canvas_course_id"),
        context_id=str(context.get("id") or ""),
        context_title=str(context.get("title") or ""),
        context_label=str(context.get("label") or ""),
        name=name,
        sortable_name=sortable,
        # $Person.email.primary is the primary address; the standard claim is the fallback.
        email=_email(custom_value(custom, "email")) or _email(str(body.get("email") or "")),
        api_base_url=custom_value(custom, "canvas_api_base_url"),
        locale=_locale(body),
        concluded_roles=custom_value(custom, "concluded_roles"),
        custom={k: v for k, v in custom.items() if isinstance(v, str)},
        context_type=[t for t in context.get("type") or [] if isinstance(t, str)]
        if isinstance(context.get("type"), list)
        else [],
        placement=str(body.get(PLACEMENT_CLAIM) or "") if isinstance(body.get(PLACEMENT_CLAIM), str) else "",
    )
