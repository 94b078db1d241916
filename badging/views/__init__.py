"""Views of the badging app (one module per audience); the per-area url lists join in badging/urls.py."""

from django.utils.crypto import salted_hmac


def launch_form_token(*, launch, purpose: str) -> str:
    """The anti-forgery token of one form inside a launch (instructor actions, the learner's share).

    Canvas shows the tool in a third-party iframe, where browsers may drop our cookies: a
    cookie-based CSRF token would fail exactly where people use these pages. The launch id is an
    unguessable, expiring secret known only to the launching browser; an HMAC of it per purpose,
    plus the same-origin check (lti.launch.request_from_this_site), keeps other sites from posting
    on the user's behalf.
    """
    return salted_hmac(f"badging.{purpose}", launch.public_id).hexdigest()
