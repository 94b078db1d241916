from badging.checks import public_base_url_check, recovery_timing_check


def test_public_base_url_is_required_in_production(settings):
    settings.PUBLIC_BASE_URL = ""
    assert [e.id for e in public_base_url_check(None)] == ["badging.E001"]


def test_public_base_url_must_be_an_https_origin(settings):
    for bad in ("http://badges.example.edu", "https://badges.example.edu/tool", "badges.example.edu"):
        settings.PUBLIC_BASE_URL = bad
        assert [e.id for e in public_base_url_check(None)] == ["badging.E002"], bad
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"
    assert public_base_url_check(None) == []


def test_recovery_timing_warns_about_a_too_short_lease_or_visibility_timeout(settings):
    settings.BADGING_LEASE_SECONDS = 30
    settings.CELERY_TASK_TIME_LIMIT = 600
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 1800}
    assert recovery_timing_check(None) == []
    settings.BADGING_LEASE_SECONDS = 3
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
    assert [w.id for w in recovery_timing_check(None)] == ["badging.W002", "badging.W003"]
