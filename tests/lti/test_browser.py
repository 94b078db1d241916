"""LTI pages people see, in a real browser: screenshots kept, no CSP violations, axe-core clean."""

import json
import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client

from tests.lti.platform import LEARNER, FakeCanvas

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_console(page) -> list[str]:
    """Script errors and CSP violations (a refusal page's own 4xx status is expected, not a problem)."""
    problems: list[str] = []

    def on_console(msg):
        if msg.type == "error" and "the server responded with a status of 403" not in msg.text:
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_blocked_cookies_page(page, live_server, screenshot):
    canvas = FakeCanvas()
    canvas.register()
    canvas.seed_jwks()
    _, state, nonce = canvas.login(Client())  # the login happened in the iframe; its cookie never came back
    token = canvas.sign(canvas.claims(nonce=nonce, roles=LEARNER))
    problems = watch_console(page)
    page.set_content(
        f'<form method="post" action="{live_server.url}/lti/launch/">'
        f'<input type="hidden" name="state" value="{state}"><input type="hidden" name="id_token" value="{token}">'
        '<button type="submit">Launch</button></form>'
    )
    with page.expect_navigation():
        page.click("button")

    assert page.locator("h1").inner_text() == "Your browser blocked Badges inside Canvas"
    link = page.get_by_role("link", name="Open Badges in a new window")
    assert link.get_attribute("target") == "_blank"
    assert "login_hint=a-login-hint" in link.get_attribute("href")
    screenshot(page, "lti-cookies-blocked")
    assert Axe().run(page).violations_count == 0
    assert problems == []


def test_dynamic_registration_page(page, live_server, screenshot, rsps):
    # The fake Canvas lives on the live server's host: Chromium will not let a public origin frame a
    # loopback one (Private Network Access). Its HTTP API is answered by `responses`.
    canvas_url = f"{live_server.url}/fake-canvas"
    openid_url = f"{canvas_url}/api/lti/security/openid-configuration"
    rsps.add(
        "GET",
        openid_url,
        json={
            "issuer": "https://canvas.instructure.com",
            "authorization_endpoint": "https://sso.uni.canvas.test/api/lti/authorize_redirect",
            "registration_endpoint": "https://uni.canvas.test/api/lti/registrations",
            "jwks_uri": "https://sso.uni.canvas.test/api/lti/security/jwks",
            "token_endpoint": "https://uni.canvas.test/login/oauth2/token",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "canvas",
                "https://canvas.instructure.com/lti/account_name": "Test University",
            },
        },
    )
    rsps.add("POST", "https://uni.canvas.test/api/lti/registrations", json={"client_id": "10000000000777"})
    problems = watch_console(page)
    page.set_default_timeout(15000)
    # Canvas (not yet a registered platform) shows the registration page in an iframe of its own
    # page and listens for the close message.
    canvas_page = (
        "<!doctype html><title>Canvas developer keys</title>"
        "<script>window.closeMessage = new Promise(r => window.addEventListener('message', e => "
        "r(JSON.stringify(e.data))));</script>"
        f'<iframe title="registration" width="900" height="600" src="{live_server.url}/lti/register/?'
        f'openid_configuration={openid_url}&registration_token=tok"></iframe>'
    )
    page.route(
        f"{canvas_url}/accounts/1/developer_keys",
        lambda route: route.fulfill(status=200, content_type="text/html", body=canvas_page),
    )
    page.goto(f"{canvas_url}/accounts/1/developer_keys")
    message = page.evaluate("Promise.race([window.closeMessage, new Promise(r => setTimeout(() => r('null'), 15000))])")

    assert json.loads(message) == {"subject": "org.imsglobal.lti.close"}, problems
    frame = page.frame_locator("iframe")
    assert "Badges registration received from Test University" in frame.locator("h1").inner_text()
    assert "API token" in frame.locator(".notice").inner_text()
    screenshot(page, "lti-registered-in-canvas")
    assert problems == []
