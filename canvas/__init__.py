"""Canvas REST: `CanvasClient(platform)` returns typed records and raises typed, plain-words errors."""

from canvas.client import CanvasClient
from canvas.errors import (
    CanvasAuthError,
    CanvasBadRequestError,
    CanvasConfigurationError,
    CanvasError,
    CanvasIncompleteAnswerError,
    CanvasInvalidAssignmentsError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasThrottledError,
    CanvasUnavailableError,
)
from canvas.records import (
    CanvasAssignment,
    CanvasAssignmentGroup,
    CanvasCourse,
    CanvasCourseSettings,
    CanvasEnrollment,
    CanvasGrades,
    CanvasSubmission,
    CanvasUser,
    CriterionAssessment,
    RubricCriterion,
    RubricRating,
)

__all__ = [
    "CanvasAssignment",
    "CanvasAssignmentGroup",
    "CanvasAuthError",
    "CanvasBadRequestError",
    "CanvasClient",
    "CanvasConfigurationError",
    "CanvasCourse",
    "CanvasCourseSettings",
    "CanvasEnrollment",
    "CanvasError",
    "CanvasGrades",
    "CanvasIncompleteAnswerError",
    "CanvasInvalidAssignmentsError",
    "CanvasNotFoundError",
    "CanvasPermissionError",
    "CanvasSubmission",
    "CanvasThrottledError",
    "CanvasUnavailableError",
    "CanvasUser",
    "CriterionAssessment",
    "RubricCriterion",
    "RubricRating",
]
