"""The one place that decides what a missing service or tool means for the tests.

Here (a developer's machine) a test whose service is missing is skipped with the reason; under
CI=true it is a failure, because CI starts every service and a missing one is a broken set-up.
`scripts/run_tests.py`, the collection hook in conftest and the tests that need a tool of their own
(the OB validator, gettext) all ask this module. It imports nothing of Django.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str, default_port: int) -> bool:
    """A TCP connection to the URL's host and port succeeds within 2 s."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def missing(reason: str) -> NoReturn:
    """Stop the current test: fail under CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)
