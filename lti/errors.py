"""Why a login, launch or registration was refused: a code for logs and tests, words for people."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# code: (HTTP status, title, what went wrong, what to do)
REFUSALS: dict[str, tuple[int, Promise, Promise, Promise]] = {
    "too_large": (
        413,
        _("This launch is too large"),
        _("Canvas sent more data than a Badges launch can contain."),
        _("Open Badges again from your course menu. If this keeps happening, tell your Canvas administrator."),
    ),
    "missing_parameters": (
        400,
        _("This launch is incomplete"),
        _("Badges was opened without the information Canvas normally sends."),
        _("Open Badges from the course menu in Canvas rather than from a bookmark or a copied link."),
    ),
    "platform_error": (
        400,
        _("Canvas could not sign you in to Badges"),
        _("Canvas answered the sign-in request with an error."),
        _("Make sure you are signed in to Canvas, then open Badges again from your course menu."),
    ),
    "malformed_token": (
        400,
        _("This launch could not be read"),
        _("The sign-in message from Canvas was damaged or is not in the expected format."),
        _("Open Badges again from your course menu."),
    ),
    "cookies_blocked": (
        403,
        _("Your browser blocked Badges inside Canvas"),
        _("Your browser does not let Badges keep its sign-in cookie while it is shown inside Canvas."),
        _("Open Badges in a new window to continue. You can also allow third-party cookies for this site."),
    ),
    "state_mismatch": (
        403,
        _("This launch has expired"),
        _("The sign-in from Canvas does not match the one this browser started, or took too long."),
        _("Open Badges again from your course menu."),
    ),
    "nonce_mismatch": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message from Canvas does not belong to this sign-in."),
        _("Open Badges again from your course menu."),
    ),
    "replayed": (
        403,
        _("This launch was already used"),
        _("Each sign-in from Canvas can be used once, and this one has been used before."),
        _("Open Badges again from your course menu; do not reload or resubmit the page."),
    ),
    "unknown_platform": (
        403,
        _("This Canvas is not connected to Badges"),
        _("Badges has no registration for the Canvas site (or developer key) that sent this launch."),
        _("Ask your Canvas administrator to register Badges (see the installation guide)."),
    ),
    "platform_pending": (
        403,
        _("Badges is waiting for approval"),
        _("This Canvas registered Badges, but an administrator of Badges has not approved the registration yet."),
        _("Ask the Badges administrator to approve it (admin pages › Platforms), then open Badges again."),
    ),
    "unknown_deployment": (
        403,
        _("Badges is not installed here"),
        _("This Canvas installation of Badges (deployment) is not registered with Badges."),
        _("Ask your Canvas administrator to add this deployment id to the Badges platform settings."),
    ),
    "algorithm_refused": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message was not signed the way LTI 1.3 requires."),
        _("Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator."),
    ),
    "bad_signature": (
        403,
        _("This launch could not be verified"),
        _("The signature on the sign-in message from Canvas is not valid."),
        _("Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator."),
    ),
    "unknown_key": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message was signed with a key this Canvas does not publish."),
        _("Open Badges again in a minute. If it keeps failing, tell your Canvas administrator."),
    ),
    "keyset_unavailable": (
        502,
        _("Canvas could not be reached"),
        _("Badges could not fetch the keys Canvas uses to sign launches."),
        _("Try again in a few minutes."),
    ),
    "wrong_issuer": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message names a different Canvas than the one registered."),
        _("Ask your Canvas administrator to check the Badges registration."),
    ),
    "wrong_audience": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message was meant for a different tool."),
        _("Ask your Canvas administrator to check the Badges developer key."),
    ),
    "expired": (
        403,
        _("This launch has expired"),
        _("The sign-in message from Canvas is too old."),
        _("Open Badges again from your course menu. If the clock of this computer is wrong, correct it."),
    ),
    "issued_in_future": (
        403,
        _("This launch could not be verified"),
        _("The sign-in message from Canvas is dated in the future."),
        _("Try again in a minute. If it keeps failing, the server clocks need attention: tell your administrator."),
    ),
    "missing_roles": (
        403,
        _("Your role in this course is unknown"),
        _("Canvas did not say whether you are a learner or an instructor in this course."),
        _("Ask your Canvas administrator to check the Badges developer key."),
    ),
    "no_usable_role": (
        403,
        _("Badges is for learners and instructors"),
        _("Your role in this course (for example observer or designer) has no Badges page."),
        _("If you think this is wrong, ask the course instructor."),
    ),
    "invalid_message": (
        400,
        _("This launch is not supported"),
        _("Badges opens from the course menu; this kind of Canvas launch is not supported."),
        _("Open Badges from the course menu in Canvas."),
    ),
    "missing_course": (
        400,
        _("Badges must be opened from a course"),
        _("Canvas did not say which course this launch comes from."),
        _(
            "Open Badges from the course menu. Administrators: the developer key needs the custom field "
            "canvas_course_id=$Canvas.course.id."
        ),
    ),
    "identity_conflict": (
        403,
        _("This launch does not match this course or person"),
        _("The course or person Canvas signed for this launch is recorded here with different Canvas ids."),
        _(
            "Open Badges again from your course menu. If it keeps failing, tell your Canvas administrator "
            "(the developer key's custom fields must be canvas_course_id=$Canvas.course.id and "
            "canvas_user_id=$Canvas.user.id)."
        ),
    ),
    "missing_user": (
        400,
        _("Badges could not tell who you are"),
        _("Canvas did not send your user id."),
        _(
            "Administrators: set the developer key privacy level to public and keep the custom field "
            "canvas_user_id=$Canvas.user.id."
        ),
    ),
    "registration_failed": (
        400,
        _("Badges could not be registered"),
        _("The registration with Canvas did not complete."),
        _("Start the installation again from Canvas. If it keeps failing, check the Badges server log."),
    ),
    "rate_limited": (
        429,
        _("Too many attempts"),
        _("Badges was asked to register with a Canvas too many times from your network in the last hour."),
        _("Wait an hour, then start the installation again from Canvas."),
    ),
    "registrations_full": (
        503,
        _("Badges cannot take more registrations now"),
        _("Too many registrations are waiting for an administrator's approval."),
        _("Ask the Badges administrator for a registration link, or try again after pending ones are reviewed."),
    ),
    "invite_invalid": (
        403,
        _("This registration link is not valid"),
        _("The registration link was already used, has expired, or was never issued."),
        _("Ask the Badges administrator for a new registration link."),
    ),
    "registration_exists": (
        409,
        _("Badges is already registered"),
        _("A registration with this Canvas and client id already exists; it was not changed."),
        _("Manage the existing registration in the Badges admin pages."),
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
