"""The product's WSGI application with one slow step for tests/ops/test_graceful_web.py: while the
file named by SLOW_LAUNCH_FLAG exists, a POST to the LTI launch first writes "started" into it and
waits SLOW_LAUNCH_SECONDS (as a launch behind a slow database would), then runs as usual."""

import os
import time
from pathlib import Path

from skillsforward.wsgi import application as product


def application(environ, start_response):
    flag = Path(os.environ["SLOW_LAUNCH_FLAG"])
    if environ.get("PATH_INFO") == "/lti/launch/" and environ.get("REQUEST_METHOD") == "POST" and flag.exists():
        flag.write_text("started")
        time.sleep(float(os.environ.get("SLOW_LAUNCH_SECONDS", "3")))
    return product(environ, start_response)
