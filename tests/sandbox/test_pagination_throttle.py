"""Canvas pagination (Link walking, per_page caps, opaque bookmarks) and throttling (leaky bucket,
403 "Rate Limit Exceeded", X-Request-Cost / X-Rate-Limit-Remaining), plus injected faults."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time

from sandbox.models import SandboxEnrollment
from sandbox.seed.instances import sandbox_seed
from sandbox.services.instance import faults_set
from tests.sandbox.conftest import Api


@pytest.fixture
def big(client, db):
    result = sandbox_seed(learners=130, assessments=1, seed=3, slug="big", base_url="http://testserver",
                          register_in_tool=False)  # fmt: skip
    return Api(client, result, result.api_token)


def test_link_walking_returns_every_row_once(big, links):
    path = f"/courses/{big.result.course.id}/enrollments"
    params = {"type[]": "StudentEnrollment", "state[]": ["active", "completed", "inactive", "deleted"], "per_page": 7}
    items, requests = big.walk(path, params)
    expected = set(
        SandboxEnrollment.objects.filter(course=big.result.course, type="StudentEnrollment").values_list(
            "id", flat=True
        )
    )
    ids = [e["id"] for e in items]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert requests == -(-len(expected) // 7)


def test_link_header_has_current_next_first_and_keeps_parameters(big, links):
    response = big.get(f"/courses/{big.result.course.id}/users", {"enrollment_type[]": "student", "per_page": 5})
    rels = links(response["Link"])
    assert {"current", "next", "first"} <= set(rels)
    assert rels["next"].startswith("http://testserver/sandbox/big/api/v1/courses/")
    assert "enrollment_type[]=student" in rels["next"] and "per_page=5" in rels["next"]
    # Bookmarks are opaque and case-sensitive: altering one is refused, not silently re-read.
    bookmark = parse_qs(urlsplit(rels["next"]).query)["page"][0]
    assert bookmark.startswith("bookmark:")
    tampered = big.get(rels["next"].replace(bookmark, bookmark.lower()))
    assert tampered.status_code == 400
    last = big.get(rels["next"])
    assert last.status_code == 200 and len(last.json()) == 5


def test_last_page_has_no_next(big, links):
    response = big.get(f"/courses/{big.result.course.id}/assignment_groups")
    assert "next" not in links(response["Link"])


def test_per_page_default_10_and_capped_at_100(big):
    path = f"/courses/{big.result.course.id}/students/submissions"
    assert len(big.get(path, {"student_ids[]": "all"}).json()) == 10
    assert len(big.get(path, {"student_ids[]": "all", "per_page": 500}).json()) == 100
    assert len(big.get(path, {"student_ids[]": "all", "per_page": 0}).json()) == 10


def test_sync_sized_walk_is_few_requests(big):
    """Submissions of 130 learners × 3 published assignments at 100 a page: 4 requests, not one per learner."""
    items, requests = big.walk(
        f"/courses/{big.result.course.id}/students/submissions",
        {"student_ids[]": "all", "include[]": "rubric_assessment", "per_page": 100},
    )
    assert len(items) > 300
    assert requests == -(-len(items) // 100)


def test_every_response_reports_cost_and_remaining(api, seeded):
    response = api.get(f"/courses/{seeded.course.id}")
    assert float(response["X-Request-Cost"]) > 0
    assert 0 < float(response["X-Rate-Limit-Remaining"]) <= 700


def test_dry_bucket_answers_403_rate_limit_exceeded(api, seeded):
    # Bucket of 100 with 50 reserved up front and 40 charged per request: the third request in a row is refused.
    faults_set(instance=seeded.instance, bucket_size=100, request_cost=40)
    path = f"/courses/{seeded.course.id}"
    with freeze_time("2026-11-27 08:00:00") as frozen:
        first, second = api.get(path), api.get(path)
        assert (first.status_code, second.status_code) == (200, 200)
        assert float(first["X-Rate-Limit-Remaining"]) == pytest.approx(60)
        assert float(second["X-Rate-Limit-Remaining"]) == pytest.approx(20)
        third = api.get(path)
        assert third.status_code == 403
        assert third.content.decode().strip() == "403 Forbidden (Rate Limit Exceeded)"
        assert float(third["X-Rate-Limit-Remaining"]) == pytest.approx(20)
        assert "X-Request-Cost" in third
        # The bucket leaks 10 units a second: after 4 s there is room again.
        frozen.tick(4)
        assert api.get(path).status_code == 200


def test_throttling_is_per_token(api, student_api, seeded):
    faults_set(instance=seeded.instance, bucket_size=60, request_cost=40)
    with freeze_time("2026-11-27 08:00:00"):
        assert api.get(f"/courses/{seeded.course.id}").status_code == 200
        assert api.get(f"/courses/{seeded.course.id}").status_code == 403
        assert student_api.get(f"/courses/{seeded.course.id}").status_code == 200


def test_injected_errors_and_latency(api, seeded):
    faults_set(instance=seeded.instance, error_rate=1.0)
    failed = api.get(f"/courses/{seeded.course.id}")
    assert failed.status_code == 503
    faults_set(instance=seeded.instance, error_rate=0.0, latency_ms=120)
    started = time.perf_counter()
    assert api.get(f"/courses/{seeded.course.id}").status_code == 200
    assert time.perf_counter() - started >= 0.12
