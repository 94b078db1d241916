import pytest


@pytest.fixture
def canvas(canvas, rsps):
    """The LTI platform double, with its key set fetched by the tool over (mocked) HTTP."""
    canvas.serve_jwks(rsps)
    return canvas
