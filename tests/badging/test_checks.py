from badging.checks import public_base_url_check


def test_public_base_url_is_required_in_production(settings):
    settings.PUBLIC_BASE_URL = ""
    assert [e.id for e in public_base_url_check(None)] == ["badging.E001"]


def test_public_base_url_must_be_an_https_origin(settings):
    for bad in ("http://badges.example.edu", "https://badges.example.edu/tool", "badges.example.edu"):
        settings.PUBLIC_BASE_URL = bad
        assert [e.id for e in public_base_url_check(None)] == ["badging.E002"], bad
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"
    assert public_base_url_check(None) == []
