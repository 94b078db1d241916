"""The load the web benchmark (bench/web.py) drives with Locust: learner page, dashboard, launch.

Run by bench/web.py as `locust -f bench/web_load.py <User class> --headless …`; it reads what to
request from the JSON file named by SFB_WEB_BENCH_SPEC (launch ids and cookies, the platform's
signing key) and how fast from SFB_WEB_BENCH_RATE (requests per second per client; 0: as fast as
the server answers). Every request carries the headers of the TLS proxy in front of gunicorn.

The launch is the real LTI 1.3 flow, as Canvas and a browser make it: the OIDC login request, then
the POST of an id_token signed with the platform's key (claims shaped as tests/lti/platform.py
makes them) carrying the nonce of that login, with the state cookies the login set.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import gevent
import jwt
from cryptography.hazmat.primitives import serialization
from locust import constant, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

SPEC = json.loads(Path(os.environ["SFB_WEB_BENCH_SPEC"]).read_text())
RATE = float(os.environ.get("SFB_WEB_BENCH_RATE", "0"))
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER_ROLES = [LIS + "institution/person#Student", LIS + "membership#Learner", LIS + "system/person#User"]
PRIVATE_KEY = serialization.load_pem_private_key(SPEC["platform"]["private_key_pem"].encode(), password=None)


def _wait():
    return constant_throughput(RATE) if RATE > 0 else constant(0)


class _PacedUser(FastHttpUser):
    """Paced, each client starts at a random point of its period: Locust starts all of them at
    once, and constant_throughput would then keep them in step, every client's request arriving in
    one burst per period (100 dashboards at once every 10 s), which no group of people does."""

    abstract = True

    def on_start(self) -> None:
        if RATE > 0:
            gevent.sleep(random.uniform(0, 1 / RATE))


# A learner opens Badges (one launch) and looks at the page a few times (back from a link, a
# reload after a grade); then the client is the browser of another learner, picked at random. Six
# views a launch is the issue's own ratio: 300 page views/s for 50 launches/s.
VIEWS_PER_LAUNCH = 6


class LearnerPage(_PacedUser):
    """Learners' browsers opening the Badges page of their launch (any learner of the course)."""

    wait_time = _wait()
    views = 0
    launch: dict = {}

    @task
    def page(self) -> None:
        if self.views % VIEWS_PER_LAUNCH == 0:
            self.launch = random.choice(SPEC["learners"])
        self.views += 1
        launch = self.launch
        headers = {**PROXY, "Cookie": f"{launch['cookie']}={launch['key']}"}
        with self.client.get(launch["url"], headers=headers, name="learner page", catch_response=True) as response:
            if response.status_code != 200 or launch["marker"] not in (response.text or ""):
                response.failure(f"HTTP {response.status_code}, or not this learner's page")


class Dashboard(_PacedUser):
    """An instructor's browser opening the dashboard's first page."""

    wait_time = _wait()

    @task
    def page(self) -> None:
        launch = random.choice(SPEC["instructors"])
        headers = {**PROXY, "Cookie": f"{launch['cookie']}={launch['key']}"}
        with self.client.get(launch["url"], headers=headers, name="dashboard", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


def _set_cookies(response) -> str:
    """The `Cookie` header a browser would send back (name=value of each Set-Cookie)."""
    raw = response.headers.get("set-cookie") or []
    values = raw if isinstance(raw, list) else [raw]
    pairs = []
    for value in values:
        for part in value.split(", "):
            first = part.split(";", 1)[0]
            if "=" in first and first.split("=", 1)[0].strip().startswith("lti1p3"):
                pairs.append(first.strip())
    return "; ".join(pairs)


class Launch(_PacedUser):
    """Canvas starting a launch of a random learner: OIDC login, then the signed id_token POST."""

    wait_time = _wait()

    @task
    def launch(self) -> None:
        platform = SPEC["platform"]
        person = random.choice(SPEC["people"])
        query = {
            "iss": platform["issuer"],
            "login_hint": person["canvas_user_id"],
            "target_link_uri": platform["target_link_uri"],
            "lti_message_hint": "bench",
            "client_id": platform["client_id"],
            "lti_deployment_id": platform["deployment_id"],
        }
        with self.client.get(
            "/lti/login/", params=query, headers=PROXY, allow_redirects=False, name="launch: OIDC login",
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}")
                return
            redirect = parse_qs(urlsplit(response.headers["location"]).query)
            state, nonce = redirect["state"][0], redirect["nonce"][0]
            cookies = _set_cookies(response)
        now = int(time.time())
        claims = {
            "iss": platform["issuer"],
            "aud": platform["client_id"],
            "azp": platform["client_id"],
            "sub": person["sub"],
            "nonce": nonce,
            "iat": now,
            "exp": now + 3600,
            "name": person["name"],
            "email": person["email"],
            "locale": "en",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": platform["deployment_id"],
            LTI + "target_link_uri": platform["target_link_uri"],
            LTI + "resource_link": {"id": "rl-bench", "title": "Badges"},
            LTI + "roles": LEARNER_ROLES,
            LTI + "context": {"id": platform["context_id"], "label": "BENCH", "title": platform["course_name"]},
            LTI + "custom": {
                "canvas_user_id": person["canvas_user_id"],
                "canvas_course_id": platform["canvas_course_id"],
                "canvas_api_base_url": platform["api_base_url"],
                "email": person["email"],
            },
        }
        id_token = jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": platform["kid"]})
        with self.client.post(
            "/lti/launch/", data={"state": state, "id_token": id_token}, headers={**PROXY, "Cookie": cookies},
            allow_redirects=False, name="launch: id_token POST", catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302 or "/l/" not in (response.headers.get("location") or ""):
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
