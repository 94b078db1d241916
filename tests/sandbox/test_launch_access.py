"""Canvas shows a course only to people with a usable enrollment (or account admins), so it never
launches the tool for a dropped or deactivated learner: the sandbox says so instead of producing
a launch real Canvas would not send."""

import pytest

from sandbox.models import SandboxUser


def _tool(client, seeded, name):
    user = SandboxUser.objects.get(instance=seeded.instance, name=name)
    base = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/external_tools/badges/"
    return client.get(base, {"as": user.id}), client.get(base + "launch", {"as": user.id})


@pytest.mark.parametrize(
    ("name", "why"),
    [("Liam Ó Súilleabháin", "was dropped from this course"), ("Chen Wei", "enrollment in this course is inactive")],
)
def test_no_launch_for_a_dropped_or_inactive_learner(client, seeded, name, why):
    page, launch = _tool(client, seeded, name)
    html = page.content.decode()
    assert page.status_code == 403
    assert why in html and "Canvas would not launch" in html
    assert "tool_content" not in html  # no iframe, no launch
    assert launch.status_code == 403 and "lti_message_hint" not in launch.content.decode()


@pytest.mark.parametrize("name", ["Ana Müller", "Ada Admin", "Test Student", "Grace Hopper-Núñez"])
def test_concluded_learners_admins_student_view_and_staff_still_launch(client, seeded, name):
    page, launch = _tool(client, seeded, name)
    assert page.status_code == 200 and 'name="tool_content"' in page.content.decode()
    assert launch.status_code == 200 and "lti_message_hint" in launch.content.decode()
