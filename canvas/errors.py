"""What can go wrong talking to Canvas, in words an instructor or admin can act on.

Canvas answers failures in a few fixed shapes (each class says which); the client maps each
shape to one class here, so callers decide by type, never by parsing messages.
"""


class CanvasError(Exception):
    """Any failed Canvas REST call. `str(error)` is a plain-words message for the admin who runs
    the platform (sync runs, the connection test); `kind` names the failure for other audiences
    (the instructor dashboard words it for instructors)."""

    kind = "error"

    def __init__(self, message: str, *, status: int | None = None, url: str = ""):
        super().__init__(message)
        self.status = status
        self.url = url


class CanvasConfigurationError(CanvasError):
    """The platform has no API base URL or token: nothing was sent."""

    kind = "configuration"


class CanvasAuthError(CanvasError):
    """401 with `WWW-Authenticate` ("Invalid access token."): the token is missing, expired,
    revoked or invalid. Nothing this token asks will work until an admin replaces it."""

    kind = "token"


class CanvasPermissionError(CanvasError):
    """401 `{"status": "unauthorized", "errors": [{"message": "user not authorized to perform that
    action"}]}`: the token works, but its user may not do this one thing."""

    kind = "permission"


class CanvasBadRequestError(CanvasError):
    """403 that is not throttling: Canvas refuses this particular request as asked (a parameter it
    will not accept). Asking the same again cannot help."""

    kind = "bad_request"


class CanvasInvalidAssignmentsError(CanvasBadRequestError):
    """403 `{"error": "invalid assignment ids requested"}` from students/submissions: one of the
    requested assignments is unpublished or deleted."""

    kind = "invalid_assignments"


class CanvasNotFoundError(CanvasError):
    """404: the course, assignment or user does not exist (or is hidden from the token's user)."""

    kind = "not_found"


class CanvasThrottledError(CanvasError):
    """403 "403 Forbidden (Rate Limit Exceeded)", still throttled after every retry."""

    kind = "throttled"


class CanvasUnavailableError(CanvasError):
    """Timeouts, connection failures or 5xx answers after every retry: Canvas is down or unreachable."""

    kind = "unavailable"


class CanvasIncompleteAnswerError(CanvasUnavailableError):
    """2xx answers whose body was cut short or was not JSON, after every retry (a proxy's or load
    balancer's error page, a connection dropped mid-page): nothing was read from them."""

    kind = "incomplete"
