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

ADMIN_ROLES = {INSTITUTION_ADMINISTRATOR, SYSTEM_ADMINISTRATOR, SYSTEM_SYSADMIN, CONTEXT_ADMINISTRATOR}
# LTI 1.3 still allows the short context role names ("Instructor") of LTI 1.1.
INSTRUCTOR_ROLES = {CONTEXT_INSTRUCTOR, "Instructor", CONTEXT_TA, "TeachingAssistant"}
TA_ROLES = {CONTEXT_TA, "TeachingAssistant", LIS + "membership/Instructor#TeachingAssistantSection"}
LEARNER_ROLES = {CONTEXT_LEARNER, "Learner", LIS + "membership/Learner#Learner"}


@dataclass(frozen=True)
class RoleDecision:
    role: str  # "learner" | "instructor" | "admin"
    is_teaching_assistant: bool = False
    is_test_user: bool = False


class NoUsableRole(ValueError):
    """The launch carries no role this tool serves (e.g. only an observer or a designer)."""


def role_decide(roles: list[str]) -> RoleDecision:
    """Admin beats instructor beats learner; Student View (TestUser) is a learner who is never badged."""
    present = {r.strip() for r in roles if isinstance(r, str)}
    is_ta = bool(present & TA_ROLES)
    is_test_user = TEST_USER in present
    if present & ADMIN_ROLES and not is_test_user:
        return RoleDecision(role="admin", is_teaching_assistant=is_ta)
    if present & INSTRUCTOR_ROLES and not is_test_user:
        return RoleDecision(role="instructor", is_teaching_assistant=is_ta)
    if present & LEARNER_ROLES or is_test_user:
        return RoleDecision(role="learner", is_test_user=is_test_user)
    raise NoUsableRole(", ".join(sorted(present)) or "no roles")
