"""pytest plugin loaded before Django is configured (-p tests.env_defaults): test-run defaults."""

import os

# The Canvas stand-in is how the tests talk to "Canvas"; it is never enabled in production.
os.environ.setdefault("SANDBOX_ENABLED", "true")
# Tests render templates without running collectstatic: plain static storage, no manifest lookup.
os.environ.setdefault("STATIC_MANIFEST", "false")
