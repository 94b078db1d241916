"""The id_token's nonce must be the one issued with the posted state.

OpenID Connect Core 1.0 §3.1.2.1/§3.2.2.11 and the IMS Security Framework §5.1.1.3 (the tool
binds `nonce` to the browser session of the login it started). pylti1p3 only checks that *some*
nonce it issued comes back, so two logins in one browser (two Canvas tabs, two courses) left each
id_token usable with the other login's state. Canvas posts the id_token with the state of the
login it answers (canvas-lms app/controllers/lti/ims/authentication_controller.rb, authorize:
the auto-submitted form carries the request's own `state` next to an id_token made with its `nonce`).
"""

import logging

import pytest
from django.test import Client

from lti.models import LaunchContext
from tests.lti.platform import LEARNER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_like(settings, caplog):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    caplog.set_level(logging.WARNING, logger="lti")


@pytest.fixture
def canvas(canvas):
    canvas.seed_jwks()
    return canvas


def test_an_id_token_from_another_login_of_the_same_browser_is_refused(canvas, caplog):
    browser = Client()
    _, first_state, first_nonce = canvas.login(browser)
    _, second_state, second_nonce = canvas.login(browser)
    assert first_nonce != second_nonce
    stolen = canvas.sign(canvas.claims(nonce=first_nonce, roles=LEARNER, user_id="9"))
    response = canvas.post_launch(browser, state=second_state, id_token=stolen)
    assert response.status_code == 403
    assert "<code>nonce_mismatch</code>" in response.content.decode()
    assert any("nonce_mismatch" in r.getMessage() for r in caplog.records)
    assert not LaunchContext.objects.exists()
    # Each id_token still works with its own login's state.
    own = canvas.sign(canvas.claims(nonce=first_nonce, roles=LEARNER, user_id="9"))
    assert canvas.post_launch(browser, state=first_state, id_token=own).status_code == 302
    assert LaunchContext.objects.count() == 1
