"""The badging domain, in the users' words, one module per area.

Issuer → BadgeClass → CourseBadge (a badge class offered in a Canvas course, with its rule):
badges. Synced from Canvas per course: Assignment (with its rubric), Enrollment (with grades),
AssessmentResult (a learner's submission on an assignment), with CourseSync and SyncRun for the
sync's record: course_sync. Derived: LearnerProgress (progress). Issued: Award (one live award per
badge class and learner, enforced by the database) and Delivery (each notification email and
external push): awards. Then the Canvas Credentials connection, the audit trail (AuditEvent), wallet
offers, the learner's backpack (collections, other emails) and program badges.

Every model is imported here: Django registers a package's models when `badging.models` is
imported, and every caller (and the migrations, for new_public_id and new_salt) reads them from here.
The import order is the order the models were defined in when this was one file.
"""

# isort: off
from badging.models.ids import new_public_id, new_salt
from badging.models.badges import BadgeClass, CourseBadge, Issuer, IssuerKey
from badging.models.course_sync import (
    AssessmentResult,
    Assignment,
    CourseStaff,
    CourseSync,
    Enrollment,
    SyncRun,
)
from badging.models.progress import LearnerProgress
from badging.models.awards import Award, AwardImage, Delivery
from badging.models.canvas_credentials import CanvasCredentialsConnection
from badging.models.audit import AuditEvent
from badging.models.wallet import WalletOffer
from badging.models.backpack import Collection, CollectionItem, LearnerEmail
from badging.models.programs import Program, ProgramProgress, ProgramRequirement
# isort: on

__all__ = [
    "AssessmentResult",
    "Assignment",
    "AuditEvent",
    "Award",
    "AwardImage",
    "BadgeClass",
    "CanvasCredentialsConnection",
    "Collection",
    "CollectionItem",
    "CourseBadge",
    "CourseStaff",
    "CourseSync",
    "Delivery",
    "Enrollment",
    "Issuer",
    "IssuerKey",
    "LearnerEmail",
    "LearnerProgress",
    "Program",
    "ProgramProgress",
    "ProgramRequirement",
    "SyncRun",
    "WalletOffer",
    "new_public_id",
    "new_salt",
]
