"""pytest plugin loaded before Django is configured (-p tests.env_defaults): test-run defaults."""

import os

# The Canvas stand-in is how the tests talk to "Canvas"; it is never enabled in production.
os.environ.setdefault("SANDBOX_ENABLED", "true")
# Tests render templates without running collectstatic: plain static storage, no manifest lookup.
os.environ.setdefault("STATIC_MANIFEST", "false")
# The tests' Canvas stand-ins and live servers run on this machine: the outbound guard allows them
# explicitly (tests of the guard itself clear this list).
os.environ.setdefault("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
