"""Why a login, launch or registration was refused: a code for logs and tests, words for people."""

from dataclasses import dataclass

# code: (HTTP status, title, what went wrong, what to do)
REFUSALS: dict[str, tuple[int, str, str, str]] = {
    "too_large": (
        413,
        "This launch is too large",
        "Canvas sent more data than a Badges launch can contain.",
        "Open Badges again from your course menu. If this keeps happening, tell your Canvas administrator.",
    ),
    "missing_parameters": (
        400,
        "This launch is incomplete",
        "Badges was opened without the information Canvas normally sends.",
        "Open Badges from the course menu in Canvas rather than from a bookmark or a copied link.",
    ),
    "platform_error": (
        400,
        "Canvas could not sign you in to Badges",
        "Canvas answered the sign-in request with an error.",
        "Make sure you are signed in to Canvas, then open Badges again from your course menu.",
    ),
    "malformed_token": (
        400,
        "This launch could not be read",
        "The sign-in message from Canvas was damaged or is not in the expected format.",
        "Open Badges again from your course menu.",
    ),
    "cookies_blocked": (
        403,
        "Your browser blocked Badges inside Canvas",
        "Your browser does not let Badges keep its sign-in cookie while it is shown inside Canvas.",
        "Open Badges in a new window to continue. You can also allow third-party cookies for this site.",
    ),
    "state_mismatch": (
        403,
        "This launch has expired",
        "The sign-in from Canvas does not match the one this browser started, or took too long.",
        "Open Badges again from your course menu.",
    ),
    "nonce_mismatch": (
        403,
        "This launch could not be verified",
        "The sign-in message from Canvas does not belong to this sign-in.",
        "Open Badges again from your course menu.",
    ),
    "replayed": (
        403,
        "This launch was already used",
        "Each sign-in from Canvas can be used once, and this one has been used before.",
        "Open Badges again from your course menu; do not reload or resubmit the page.",
    ),
    "unknown_platform": (
        403,
        "This Canvas is not connected to Badges",
        "Badges has no registration for the Canvas site (or developer key) that sent this launch.",
        "Ask your Canvas administrator to register Badges (see the installation guide).",
    ),
    "platform_pending": (
        403,
        "Badges is waiting for approval",
        "This Canvas registered Badges, but an administrator of Badges has not approved the registration yet.",
        "Ask the Badges administrator to approve it (admin pages › Platforms), then open Badges again.",
    ),
    "unknown_deployment": (
        403,
        "Badges is not installed here",
        "This Canvas installation of Badges (deployment) is not registered with Badges.",
        "Ask your Canvas administrator to add this deployment id to the Badges platform settings.",
    ),
    "algorithm_refused": (
        403,
        "This launch could not be verified",
        "The sign-in message was not signed the way LTI 1.3 requires.",
        "Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator.",
    ),
    "bad_signature": (
        403,
        "This launch could not be verified",
        "The signature on the sign-in message from Canvas is not valid.",
        "Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator.",
    ),
    "unknown_key": (
        403,
        "This launch could not be verified",
        "The sign-in message was signed with a key this Canvas does not publish.",
        "Open Badges again in a minute. If it keeps failing, tell your Canvas administrator.",
    ),
    "keyset_unavailable": (
        502,
        "Canvas could not be reached",
        "Badges could not fetch the keys Canvas uses to sign launches.",
        "Try again in a few minutes.",
    ),
    "wrong_issuer": (
        403,
        "This launch could not be verified",
        "The sign-in message names a different Canvas than the one registered.",
        "Ask your Canvas administrator to check the Badges registration.",
    ),
    "wrong_audience": (
        403,
        "This launch could not be verified",
        "The sign-in message was meant for a different tool.",
        "Ask your Canvas administrator to check the Badges developer key.",
    ),
    "expired": (
        403,
        "This launch has expired",
        "The sign-in message from Canvas is too old.",
        "Open Badges again from your course menu. If the clock of this computer is wrong, correct it.",
    ),
    "issued_in_future": (
        403,
        "This launch could not be verified",
        "The sign-in message from Canvas is dated in the future.",
        "Try again in a minute. If it keeps failing, the server clocks need attention: tell your administrator.",
    ),
    "missing_roles": (
        403,
        "Your role in this course is unknown",
        "Canvas did not say whether you are a learner or an instructor in this course.",
        "Ask your Canvas administrator to check the Badges developer key.",
    ),
    "no_usable_role": (
        403,
        "Badges is for learners and instructors",
        "Your role in this course (for example observer or designer) has no Badges page.",
        "If you think this is wrong, ask the course instructor.",
    ),
    "invalid_message": (
        400,
        "This launch is not supported",
        "Badges opens from the course menu; this kind of Canvas launch is not supported.",
        "Open Badges from the course menu in Canvas.",
    ),
    "missing_course": (
        400,
        "Badges must be opened from a course",
        "Canvas did not say which course this launch comes from.",
        "Open Badges from the course menu. Administrators: the developer key needs the custom field "
        "canvas_course_id=$Canvas.course.id.",
    ),
    "identity_conflict": (
        403,
        "This launch does not match this course or person",
        "The course or person Canvas signed for this launch is recorded here with different Canvas ids.",
        "Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator "
        "(the developer key's custom fields must be canvas_course_id=$Canvas.course.id and "
        "canvas_user_id=$Canvas.user.id).",
    ),
    "missing_user": (
        400,
        "Badges could not tell who you are",
        "Canvas did not send your user id.",
        "Administrators: set the developer key privacy level to public and keep the custom field "
        "canvas_user_id=$Canvas.user.id.",
    ),
    "registration_failed": (
        400,
        "Badges could not be registered",
        "The registration with Canvas did not complete.",
        "Start the installation again from Canvas. If it keeps failing, check the Badges server log.",
    ),
    "rate_limited": (
        429,
        "Too many attempts",
        "Badges was asked to register with a Canvas too many times from your network in the last hour.",
        "Wait an hour, then start the installation again from Canvas.",
    ),
    "registrations_full": (
        503,
        "Badges cannot take more registrations now",
        "Too many registrations are waiting for an administrator's approval.",
        "Ask the Badges administrator for a registration link, or try again after pending ones are reviewed.",
    ),
    "invite_invalid": (
        403,
        "This registration link is not valid",
        "The registration link was already used, has expired, or was never issued.",
        "Ask the Badges administrator for a new registration link.",
    ),
    "registration_exists": (
        409,
        "Badges is already registered",
        "A registration with this Canvas and client id already exists; it was not changed.",
        "Manage the existing registration in the Badges admin pages.",
    ),
}


@dataclass
class Refused(Exception):
    """A request the LTI side refuses. `detail` goes to the log, never to the page."""

    code: str
    detail: str = ""
    extra: dict | None = None

    def __post_init__(self):
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def status(self) -> int:
        return REFUSALS[self.code][0]

    def page_context(self) -> dict:
        _status, title, message, advice = REFUSALS[self.code]
        return {"title": title, "message": message, "advice": advice, "code": self.code, **(self.extra or {})}
