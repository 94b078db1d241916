"""One Canvas token, one budget: requests in flight per API token are capped across every worker
with a Redis semaphore whose leases expire when a worker dies.

Canvas throttles per access token with a leaky bucket and charges every request an up-front cost
until it finishes (app/middleware/request_throttle.rb; doc/api/throttling.md: "making parallel
requests ... will quickly exhaust the rate limit"), so concurrent course syncs and email reads on one
platform token must share one cap. Real Redis (REDIS_URL) and real threads, each with a client of
its own, as separate workers would have.
"""

import threading
import time
import uuid

import pytest
import redis
import responses
from django.conf import settings

from canvas import CanvasClient
from canvas.budget import TokenBudget, token_key

pytestmark = pytest.mark.integration

API = "https://uni.instructure.com/api/v1"


class _Platform:
    api_base_url = "https://uni.instructure.com"

    def __init__(self, token: str):
        self.api_token = token


@pytest.fixture
def token():
    value = f"tok-{uuid.uuid4().hex}"
    yield value
    redis.Redis.from_url(settings.REDIS_URL).delete(token_key(value))


def test_concurrent_workers_on_one_token_never_exceed_the_cap(settings, token):
    settings.CANVAS_MAX_IN_FLIGHT_PER_TOKEN = 2
    lock = threading.Lock()
    in_flight = {"now": 0, "max": 0, "done": 0}

    def answer(request):
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.05)  # long enough for the other workers to try to overlap; nothing here is timed
        with lock:
            in_flight["now"] -= 1
            in_flight["done"] += 1
        return 200, {"X-Rate-Limit-Remaining": "600.0"}, '{"id": 7, "name": "Course"}'

    errors: list[BaseException] = []

    def worker():
        try:
            client = CanvasClient(_Platform(token), sleep=time.sleep)
            for _ in range(3):
                client.get_course("7")
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/courses/7", callback=answer)
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert in_flight["done"] == 18
    assert in_flight["max"] <= 2
    assert TokenBudget(token).in_flight() == 0  # every slot given back


def test_a_dead_workers_lease_expires_and_a_live_one_makes_others_wait(settings, token):
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = token_key(token)
    assert token not in key  # the token itself never reaches Redis

    # A worker died holding the only slot: its lease ran out, so the next request goes at once.
    client.zadd(key, {"dead-worker": time.time() - 1})
    waits: list[float] = []
    budget = TokenBudget(token, cap=1, lease_seconds=30, sleep=waits.append)
    with budget.slot():
        assert budget.in_flight() == 1
    assert waits == []

    # A live lease holds the only slot: the next request waits until it is given back.
    client.zadd(key, {"live-worker": time.time() + 30})

    def release_after_first_wait(delay: float) -> None:
        waits.append(delay)
        client.zrem(key, "live-worker")

    budget = TokenBudget(token, cap=1, lease_seconds=30, sleep=release_after_first_wait)
    with budget.slot():
        assert budget.in_flight() == 1
    assert len(waits) == 1
    assert budget.in_flight() == 0


def test_a_clients_last_place_is_leased_briefly(settings, token):
    """A sync uses the token's whole cap; its last place is leased for about one request's timeout, so
    a worker killed holding every slot leaves the next sync one within seconds, not minutes."""
    settings.CANVAS_MAX_IN_FLIGHT_PER_TOKEN = 3
    settings.CANVAS_SLOT_LEASE_SECONDS = 120
    settings.CANVAS_HTTP_TIMEOUT = 10
    store = redis.Redis.from_url(settings.REDIS_URL)
    leases: list[float] = []
    all_in = threading.Barrier(3, timeout=10)

    def answer(request):
        all_in.wait()  # three requests in flight at once: every lease is taken
        leases.extend(score - time.time() for _, score in store.zrange(token_key(token), 0, -1, withscores=True))
        return 200, {"X-Rate-Limit-Remaining": "600.0"}, '{"id": 7, "name": "Course"}'

    client = CanvasClient(_Platform(token), sleep=time.sleep)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/courses/7", callback=answer)
        threads = [threading.Thread(target=client.get_course, args=("7",)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert client.peak_in_flight == 3
    # Read by the first answer: two leases of the budget's 120 s, one of the 10 s timeout plus 5 s
    # (less the time the three took to get there on a loaded machine).
    short, *long = sorted(leases[:3])
    assert 0 < short <= 15 and all(60 < s <= 120 for s in long)
