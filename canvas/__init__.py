"""Canvas REST: `CanvasClient(platform)` returns typed records and raises typed, plain-words errors."""

from canvas.client import CanvasClient
from canvas.errors import (
    CanvasAuthError,
    CanvasConfigurationError,
    CanvasError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasThrottledError,
    CanvasUnavailableError,
)
from canvas.records import (
    CanvasAssignment,
    CanvasAssignmentGroup,
    CanvasCourse,
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
    "CanvasClient",
    "CanvasConfigurationError",
    "CanvasCourse",
    "CanvasEnrollment",
    "CanvasError",
    "CanvasGrades",
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
