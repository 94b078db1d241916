"""Bad input to the sandbox's admin API and teacher pages gets a clear 400 / message, never a
server error, and changes nothing (scripts and tests drive these; a 500 hides what was wrong)."""

import json

import pytest

from sandbox.models import SandboxAssignment, SandboxEnrollment, SandboxInstance, SandboxUser, Submission


def _post(client, seeded, path: str, body) -> tuple[int, dict]:
    response = client.post(
        f"/sandbox/{seeded.instance.slug}/admin_api/v1/{path}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {seeded.api_token}"},
    )
    return response.status_code, response.json()


@pytest.fixture
def sofia(seeded):
    return SandboxUser.objects.get(instance=seeded.instance, name="Sofía Herrera")


@pytest.fixture
def assessment(seeded):
    return SandboxAssignment.objects.filter(course=seeded.course, rubric__isnull=False).first()


@pytest.mark.parametrize("score", ["NaN", "Infinity", "-Infinity", "1e400", 99999999999, "sNaN"])
def test_grade_refuses_scores_that_are_not_finite_or_too_large(client, seeded, sofia, score):
    homework = SandboxAssignment.objects.get(course=seeded.course, name="Weekly quiz 1")
    status, body = _post(
        client,
        seeded,
        f"courses/{seeded.course.id}/grade",
        {"user_id": sofia.id, "assignment_id": homework.id, "score": score},
    )
    assert status == 400 and "score" in body["error"], body
    assert not Submission.objects.filter(assignment=homework, user=sofia, workflow_state="graded").exists()


@pytest.mark.parametrize("score", ["NaN", "Infinity", 1e12])
def test_override_refuses_scores_that_are_not_finite_or_too_large(client, seeded, sofia, score):
    status, body = _post(client, seeded, f"courses/{seeded.course.id}/override", {"user_id": sofia.id, "score": score})
    assert status == 400 and "score" in body["error"], body
    assert SandboxEnrollment.objects.get(course=seeded.course, user=sofia).override_score is None


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("courses/{course}/grade", {"user_id": "x", "assignment_id": "{assessment}", "score": 1}, "user_id"),
        ("courses/{course}/grade", {"user_id": "{sofia}", "assignment_id": "y", "score": 1}, "assignment_id"),
        ("courses/{course}/grade", {"user_id": "{sofia}", "assignment_id": "{assessment}", "ratings": "zz"}, "ratings"),
        ("courses/{course}/override", {"user_id": [1], "score": 90}, "user_id"),
        ("courses/{course}/enroll", {"user_id": "q"}, "user_id"),
        ("courses/{course}/assessments", {"name": "A", "criteria": ["a"], "points_per_criterion": "z"}, "points"),
        ("courses/{course}/assessments", {"name": "A", "criteria": ["a"], "points_per_criterion": 10**9}, "points"),
        ("courses/{course}/assessments", {"name": "A", "criteria": ["a"] * 51}, "criteria"),
        ("faults", {"latency_ms": "x"}, "latency"),
        ("faults", {"error_rate": "often"}, "error rate"),
        ("faults", {"bucket_size": "Infinity"}, "bucket"),
        ("faults", {"request_cost": "cheap"}, "cost"),
    ],
)
def test_admin_api_answers_400_naming_the_bad_field(client, seeded, sofia, assessment, path, body, needle):
    ids = {"course": seeded.course.id, "sofia": sofia.id, "assessment": assessment.id}
    path = path.format(**ids)
    body = {k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()}
    before = SandboxInstance.objects.values().get(pk=seeded.instance.pk)
    status, answer = _post(client, seeded, path, body)
    assert status == 400, answer
    assert needle in answer["error"], answer
    assert SandboxInstance.objects.values().get(pk=seeded.instance.pk) == before


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400"])
def test_teacher_page_override_refuses_non_numbers_politely(client, seeded, sofia, value):
    page = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/users/{sofia.id}/"
    response = client.post(page, {"action": "override", "override_score": value}, follow=True)
    assert response.status_code == 200
    assert "score" in response.content.decode()
    assert SandboxEnrollment.objects.get(course=seeded.course, user=sofia).override_score is None


def test_settings_page_refuses_an_infinite_bucket(client, seeded):
    page = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/settings/"
    response = client.post(
        page, {"action": "faults", "latency_ms": "0", "error_rate": "0", "bucket_size": "Infinity"}, follow=True
    )
    assert response.status_code == 200
    assert "bucket" in response.content.decode()
    assert SandboxInstance.objects.get(pk=seeded.instance.pk).throttle_bucket_size == 700.0
