"""HTTP to a platform (key sets, registration, tokens, services): the guarded outbound client with
the LTI timeout, and bounded reads of answers whose URL someone else chose."""

import requests
from django.conf import settings

from skillsforward.outbound import GuardedSession, outbound_session


def http_session() -> GuardedSession:
    """A session for calls to a platform (key sets, tokens, services): the guarded outbound client
    (checked and pinned addresses, no redirects), and every request times out."""
    return outbound_session(timeout=settings.LTI_HTTP_TIMEOUT)


def body_within(response: requests.Response, *, limit: int) -> bytes | None:
    """The body of a streamed response, or None as soon as it passes `limit` bytes: a URL chosen
    by whoever registers a platform must not be able to fill our memory."""
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return body
