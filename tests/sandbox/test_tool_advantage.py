"""The tool's own LTI Advantage client against the sandbox, over real HTTP both ways: the tool signs
a client assertion, the sandbox's token endpoint checks it against the tool's live JWKS, and the
tool pages through the sandbox's NRPS roster with the token it got (no mocks in between)."""

import os

import pytest
from pylti1p3.names_roles import NamesRolesProvisioningService

from lti.adapter import connector
from lti.models import Platform
from sandbox.models import SandboxEnrollment
from sandbox.seed.instances import sandbox_seed

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_tools_nrps_client_reads_the_sandbox_roster(live_server):
    result = sandbox_seed(
        learners=12, assessments=1, seed=3, slug="adv", base_url=live_server.url, tool_url=live_server.url
    )
    platform = Platform.objects.get(pk=result.platform_id)
    url = f"{result.instance.root_url}/api/lti/courses/{result.course.id}/names_and_roles?limit=5"
    nrps = NamesRolesProvisioningService(
        connector.service_connector(platform=platform), {"context_memberships_url": url}
    )

    members = nrps.get_members()  # three pages of 5: follows Link rel="next"

    expected = (
        SandboxEnrollment.objects.filter(course=result.course)
        .exclude(workflow_state="deleted")
        .exclude(type="StudentViewEnrollment")
        .values("user_id")
        .distinct()
        .count()
    )
    assert len(members) == expected > 10
    by_name = {m["name"]: m for m in members}
    assert by_name["Zoë O'Brien <b>"]["email"] == "learner1@students.example.edu"
    assert "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor" in by_name["Grace Hopper-Núñez"]["roles"]
    assert by_name["Chen Wei"]["status"] == "Inactive"
    assert "Test Student" not in by_name
