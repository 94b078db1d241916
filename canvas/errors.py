"""What can go wrong talking to Canvas, in words an instructor or admin can act on."""


class CanvasError(Exception):
    """Any failed Canvas REST call. `str(error)` is a plain-words message fit for an instructor."""

    def __init__(self, message: str, *, status: int | None = None, url: str = ""):
        super().__init__(message)
        self.status = status
        self.url = url


class CanvasConfigurationError(CanvasError):
    """The platform has no API base URL or token: nothing was sent."""


class CanvasAuthError(CanvasError):
    """401: the token is missing, expired, revoked or invalid."""


class CanvasPermissionError(CanvasError):
    """403 (not throttling): the token's user may not read this."""


class CanvasNotFoundError(CanvasError):
    """404: the course, assignment or user does not exist (or is hidden from the token's user)."""


class CanvasThrottledError(CanvasError):
    """403 Rate Limit Exceeded, still throttled after every retry."""


class CanvasUnavailableError(CanvasError):
    """Timeouts, connection failures or 5xx answers after every retry: Canvas is down or unreachable."""
