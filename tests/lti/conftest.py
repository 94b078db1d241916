import pytest
import responses

from tests.lti.platform import FakeCanvas


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def canvas(db, rsps):
    """A registered fake Canvas whose JWKS the tool fetches over (mocked) HTTP."""
    platform = FakeCanvas()
    platform.register()
    platform.serve_jwks(rsps)
    return platform
