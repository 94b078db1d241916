import pytest

from sandbox.models import SandboxEnrollment, SandboxUser
from sandbox.seed.instances import sandbox_seed
from sandbox.services.keys import api_token_create


@pytest.fixture
def seeded(db):
    """A small seeded course (not registered in the tool), served as http://testserver/sandbox/t/."""
    return sandbox_seed(
        learners=14, assessments=2, seed=7, slug="t", base_url="http://testserver", register_in_tool=False
    )


class Api:
    """The Django test client speaking to the sandbox REST API with a Bearer token."""

    def __init__(self, client, result, token: str):
        self.client = client
        self.result = result
        self.token = token
        self.prefix = f"/sandbox/{result.instance.slug}/api/v1"

    def get(self, path: str, params=None, token: str | None = None):
        headers = {} if token == "" else {"Authorization": f"Bearer {token or self.token}"}
        url = path if path.startswith("http") else self.prefix + path
        return self.client.get(url, params or {}, headers=headers)

    def walk(self, path: str, params=None) -> tuple[list, int]:
        """Follows Link rel=next from the first page; returns all items and the number of requests."""
        response = self.get(path, params)
        items, requests = [], 0
        while True:
            requests += 1
            assert response.status_code == 200, response.content
            items.extend(response.json())
            links = _links(response["Link"])
            if "next" not in links:
                return items, requests
            response = self.get(links["next"])


def _links(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(","):
        url, rel = part.split(";")
        out[rel.strip().split("=")[1].strip('"')] = url.strip()[1:-1]
    return out


@pytest.fixture
def links():
    return _links


@pytest.fixture
def api(client, seeded):
    return Api(client, seeded, seeded.api_token)


@pytest.fixture
def student_api(client, seeded):
    """The API as a learner (Zoë) would call it with her own token."""
    zoe = SandboxUser.objects.get(instance=seeded.instance, name="Zoë O'Brien <b>")
    return Api(client, seeded, api_token_create(user=zoe, purpose="test"))


@pytest.fixture
def teacher(seeded):
    return SandboxEnrollment.objects.get(course=seeded.course, type="TeacherEnrollment").user
