"""Settings of the demo's sandbox process: the same project, serving only the fake Canvas.

Its own cookie names keep its session apart from the tool's even when both share a host name.
"""

from skillsforward.settings import *  # noqa: F403

ROOT_URLCONF = "sandbox.root_urls"
SESSION_COOKIE_NAME = "sandbox_sessionid"
CSRF_COOKIE_NAME = "sandbox_csrftoken"
