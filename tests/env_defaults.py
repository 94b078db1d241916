"""pytest plugin loaded before Django is configured (-p tests.env_defaults): test-run defaults."""

import os

# The Canvas stand-in is how the tests talk to "Canvas"; it is never enabled in production.
os.environ.setdefault("SANDBOX_ENABLED", "true")
