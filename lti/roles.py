"""From LTI role URIs to the three roles the product knows (learner, instructor, admin).

Canvas sends context (membership) roles for the course and institution/system roles for the
person. Only the context roles say whether someone teaches or learns *in this course*: an
institution "Instructor" (faculty) may well be a student here.
"""

from dataclasses import dataclass

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CONTEXT_LEARNER = LIS + "membership#Learner"
CONTEXT_INSTRUCTOR = LIS + "membership#Instructor"
CONTEXT_TA = LIS + "membership/Instructor#TeachingAssistant"
CONTEXT_ADMINISTRATOR = LIS + "membership#Administrator"
INSTITUTION_ADMINISTRATOR = LIS + "institution/person#Administrator"
SYSTEM_ADMINISTRATOR = LIS + "system/person#Administrator"
SYSTEM_SYSADMIN = LIS + "system/person#SysAdmin"
TEST_USER = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"

# Course (context) roles: only these give power in a course. Canvas sends them for the launching
# user's *current* enrollments in the course (canvas-lms lib/lti/substitutions_helper.rb:
# course_enrollments reads @context.current_enrollments); institution and system roles describe
# the person, not their place in this course.
CONTEXT_ADMIN_ROLES = {CONTEXT_ADMINISTRATOR, "Administrator"}
# LTI 1.3 still allows the short context role names ("Instructor") of LTI 1.1.
INSTRUCTOR_ROLES = {CONTEXT_INSTRUCTOR, "Instructor", CONTEXT_TA, "TeachingAssistant"}
TA_ROLES = {
    CONTEXT_TA,
    "TeachingAssistant",
    LIS + "membership/Instructor#TeachingAssistantSection",
    # The mis-cased URI of Canvas's LIS v2 map, and the LTI 1.1 URN ($Canvas.membership.concludedRoles).
    LIS + "membership/instructor#TeachingAssistant",
    "urn:lti:role:ims/lis/TeachingAssistant",
}
LEARNER_ROLES = {CONTEXT_LEARNER, "Learner", LIS + "membership/Learner#Learner"}
# An account or site administrator with no role in the course: Canvas lets them manage any course
# of their account, so they get the course's admin view.
PERSON_ADMIN_ROLES = {INSTITUTION_ADMINISTRATOR, SYSTEM_ADMINISTRATOR, SYSTEM_SYSADMIN}
ADMIN_ROLES = CONTEXT_ADMIN_ROLES | PERSON_ADMIN_ROLES

# The LIS role URNs of LTI 1.1 ($Canvas.membership.concludedRoles uses them) in LTI 1.3 terms.
_URN_ROLES = {
    "urn:lti:role:ims/lis/Learner": CONTEXT_LEARNER,
    "urn:lti:role:ims/lis/Instructor": CONTEXT_INSTRUCTOR,
    "urn:lti:role:ims/lis/TeachingAssistant": CONTEXT_TA,
    "urn:lti:role:ims/lis/Administrator": CONTEXT_ADMINISTRATOR,
}
# What Canvas sends when the person has no concluded enrollment in the course.
NO_ROLE_URNS = {"urn:lti:sysrole:ims/lis/None", LIS + "system/person#None", LIS + "person#None"}


@dataclass(frozen=True)
class RoleDecision:
    role: str  # "learner" | "instructor" | "admin"
    is_teaching_assistant: bool = False
    is_test_user: bool = False
    # The person's enrollment in the course has concluded (term over): their pages are read-only.
    concluded: bool = False


class NoUsableRole(ValueError):
    """The launch carries no role this tool serves (e.g. only an observer or a designer)."""


def _is_context_role(role: str) -> bool:
    return role.startswith(LIS + "membership") or role in CONTEXT_ADMIN_ROLES | INSTRUCTOR_ROLES | LEARNER_ROLES | {
        "Mentor",
        "ContentDeveloper",
        "Member",
        "Manager",
    }


def concluded_roles_parse(value: str) -> list[str]:
    """$Canvas.membership.concludedRoles: a comma-separated list of LIS roles (LTI 1.1 URNs, short
    names or LIS v2 URIs) of the person's concluded enrollments in the course, in LTI 1.3 terms;
    empty when there are none (Canvas then sends urn:lti:sysrole:ims/lis/None)."""
    roles = []
    for item in (value or "").split(","):
        item = item.strip()
        if item and item not in NO_ROLE_URNS:
            roles.append(_URN_ROLES.get(item, item))
    return roles


def _decide_in_context(present: set[str], *, concluded: bool = False) -> RoleDecision | None:
    is_ta = bool(present & TA_ROLES)
    if present & CONTEXT_ADMIN_ROLES:
        return RoleDecision(role="admin", is_teaching_assistant=is_ta, concluded=concluded)
    if present & (INSTRUCTOR_ROLES | TA_ROLES):
        return RoleDecision(role="instructor", is_teaching_assistant=is_ta, concluded=concluded)
    if present & LEARNER_ROLES:
        return RoleDecision(role="learner", concluded=concluded)
    return None


def role_decide(roles: list[str], *, concluded_roles: list[str] | None = None) -> RoleDecision:
    """The person's role in this course, from the course (context) roles only.

    Course admin beats instructor beats learner; Student View (TestUser) is a learner who is never
    badged. An institution or system administrator enrolled as a student is a learner here. Without
    a current course role, a concluded enrollment ($Canvas.membership.concludedRoles) gives the same
    role read-only; an administrator with no role in the course at all gets the admin view.
    """
    present = {r.strip() for r in roles if isinstance(r, str)}
    if TEST_USER in present:
        return RoleDecision(role="learner", is_test_user=True)
    context = {r for r in present if _is_context_role(r)}
    if context:
        decision = _decide_in_context(context)
        if decision is None:
            raise NoUsableRole(", ".join(sorted(present)))
        return decision
    past = {r for r in (concluded_roles or []) if _is_context_role(r) or r in TA_ROLES}
    if past:
        decision = _decide_in_context(past, concluded=True)
        if decision is not None:
            return decision
    if present & PERSON_ADMIN_ROLES:
        return RoleDecision(role="admin")
    raise NoUsableRole(", ".join(sorted(present | set(concluded_roles or []))) or "no roles")
