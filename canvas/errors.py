"""What can go wrong talking to Canvas, in words an instructor or admin can act on.

Canvas answers failures in a few fixed shapes (each class says which); the client maps each
shape to one class here, so callers decide by type, never by parsing messages.
"""

from urllib.parse import urlsplit

import requests


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


# --- Canvas's answers mapped to the classes above (the REST client's only way to fail) ---------

_NOT_AUTHORIZED = " (Canvas: user not authorized to perform that action)"


def error_for_response(response: requests.Response, url: str) -> CanvasError:
    status = response.status_code
    path = urlsplit(url).path
    detail = _canvas_message(response)
    lowered = response.text[:1000].lower()
    if status == 401:
        # lib/authentication_methods.rb: a request without a usable token gets WWW-Authenticate
        # (and "Invalid access token." for a bad one); a user who may not do this gets
        # {"status": "unauthorized", ...} without it.
        if "insufficient scope" in lowered or "invalid_scope" in lowered:
            # A scoped developer key without this endpoint (AccessTokenScopeError, also a 401).
            return CanvasPermissionError(
                f"the Canvas API token's developer key does not allow {path}{detail}: ask your Canvas admin to "
                "add the GET scopes the README lists to the key, or to use an unscoped token",
                status=status,
                url=path,
            )
        if response.headers.get("WWW-Authenticate") or "invalid access token" in lowered:
            return CanvasAuthError(
                "the Canvas API token was revoked or is invalid: ask your Canvas admin to issue a new token "
                "for the badges tool (it may have expired) and enter it in the platform settings",
                status=status,
                url=path,
            )
        return CanvasPermissionError(
            f"the Canvas API token works, but its user may not read this ({path}){detail or _NOT_AUTHORIZED}: "
            "ask your Canvas admin to use a token of an account that is an admin of the courses' account, or a "
            "teacher in every badged course, with the permissions listed in the README (view all grades, manage "
            "grades, read the course roster, view users' email addresses)",
            status=status,
            url=path,
        )
    if status == 403:
        if "invalid assignment ids requested" in lowered:
            return CanvasInvalidAssignmentsError(
                f"Canvas refused to report grades ({path}) because a requested assignment is unpublished or "
                "deleted in Canvas",
                status=status,
                url=path,
            )
        return CanvasBadRequestError(
            f"Canvas refused the request as it was asked ({status} on {path}){detail}; this is not a missing "
            "permission: please report it to the badges tool's maintainers",
            status=status,
            url=path,
        )
    if status == 404:
        return CanvasNotFoundError(
            f"Canvas says this does not exist ({path}): the course or item may have been deleted{detail}",
            status=status,
            url=path,
        )
    return CanvasError(f"Canvas refused the request ({status} on {path}){detail}", status=status, url=path)


def _canvas_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    messages: list[str] = []
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list):
            messages = [str(e.get("message", "")) for e in body["errors"] if isinstance(e, dict)]
        elif body.get("message"):
            messages = [str(body["message"])]
        elif isinstance(body.get("error"), str):
            messages = [body["error"]]
    text = "; ".join(m for m in messages if m)
    return f" (Canvas: {text[:200]})" if text else ""
