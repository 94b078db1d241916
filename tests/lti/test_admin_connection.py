"""The Platform admin's "Test the Canvas API connection" action, against the sandbox Canvas over HTTP."""

import pytest
from django.contrib.messages import get_messages

from lti.models import Platform
from sandbox.seed.instances import sandbox_seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform(live_server, enqueued):
    # Seeding imports the demo badge set-up, which asks a worker to evaluate the course: no broker here.
    result = sandbox_seed(learners=3, assessments=1, slug="conntest", base_url=live_server.url)
    return Platform.objects.get(pk=result.platform_id)


def _run_action(admin_client, platform):
    response = admin_client.post(
        "/admin/lti/platform/",
        {"action": "test_connection", "_selected_action": [platform.pk]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)] or [
        (m.level_tag, str(m)) for m in response.context["messages"]
    ]


def test_working_token_reports_who_it_connects_as(admin_client, platform):
    messages = _run_action(admin_client, platform)
    assert len(messages) == 1
    level, text = messages[0]
    assert level == "success"
    assert "connected to Canvas as" in text


def test_revoked_token_says_what_to_do(admin_client, platform):
    platform.api_token = "revoked-token"
    platform.save()
    level, text = _run_action(admin_client, platform)[0]
    assert level == "error"
    assert "token" in text and "Canvas admin" in text


def test_missing_address_is_reported_without_a_request(admin_client, platform):
    platform.api_base_url = ""
    platform.save()
    level, text = _run_action(admin_client, platform)[0]
    assert level == "error"
    assert "API base URL" in text
