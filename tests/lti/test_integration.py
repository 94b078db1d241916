"""Launches against PostgreSQL and a shared Redis cache, as in production (several web processes)."""

import threading

import pytest
from django.db import connections
from django.test import Client

from lti.models import LaunchContext
from tests.lti.platform import FakeCanvas

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_cache(settings):
    """The production cache: Redis, shared by every process (a test-private key prefix)."""
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-lti-{uuid.uuid4().hex[:8]}",
        }
    }


def test_concurrent_replays_admit_exactly_one_launch(redis_cache):
    """The same id_token posted by eight concurrent requests: one launch, seven refusals."""
    canvas = FakeCanvas()
    canvas.register()
    canvas.seed_jwks()
    first = Client()
    _, state, nonce = canvas.login(first)
    token = canvas.sign(canvas.claims(nonce=nonce, roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]))
    cookies = first.cookies
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def post():
        client = Client()
        client.cookies = cookies
        barrier.wait()
        try:
            statuses.append(canvas.post_launch(client, state=state, id_token=token).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [302] + [403] * 7
    assert LaunchContext.objects.count() == 1


def test_launch_with_redis_state_and_postgres(redis_cache):
    canvas = FakeCanvas()
    canvas.register()
    ctx = canvas.launch_context(Client(), user_id="42", course_id="7")
    assert ctx.person.canvas_user_id == "42" and ctx.course.canvas_course_id == "7"
