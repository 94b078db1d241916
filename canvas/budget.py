"""One Canvas token, one budget: at most N requests in flight per API token, across every worker.

Canvas throttles per access token with a leaky bucket, and charges each request an up-front
cost (50 units of a 600-700 unit bucket) until it finishes (app/middleware/request_throttle.rb,
doc/api/throttling.md). A dozen course syncs and email reads running at once on one platform's
token reserve more than the bucket holds, and Canvas answers them all "403 Forbidden (Rate Limit
Exceeded)". So every Canvas request first takes a slot of its token's semaphore:

- With Redis (`REDIS_URL`, i.e. whenever more than one process runs) the semaphore is a sorted
  set per token (keyed by a hash of the token, never the token) whose members are leases scored by
  their expiry: a worker killed mid-request leaves a lease that simply expires
  (CANVAS_SLOT_LEASE_SECONDS, longer than any request may take), so slots are never lost.
- Without Redis (the single-process demo) an in-process semaphore does the same per process.

A full semaphore means wait (jittered polling), not fail: a busy night degrades to slower.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

logger = logging.getLogger(__name__)

# Takes the slot when the set (expired leases dropped first) has room; atomic in Redis.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""

_local_lock = threading.Lock()
_local: dict[str, threading.BoundedSemaphore] = {}
_redis_clients: dict[str, object] = {}


def token_key(token: str) -> str:
    """The budget's name for a token: a hash, so the token itself never reaches Redis."""
    return "canvas:inflight:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _redis():
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        _redis_clients[url] = client
    return client


class TokenBudget:
    """The in-flight cap of one API token. `with budget.slot(): send the request`."""

    def __init__(
        self,
        token: str,
        *,
        cap: int | None = None,
        lease_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.key = token_key(token)
        self.cap = max(1, int(cap if cap is not None else settings.CANVAS_MAX_IN_FLIGHT_PER_TOKEN))
        self.lease_seconds = float(lease_seconds if lease_seconds is not None else settings.CANVAS_SLOT_LEASE_SECONDS)
        self._sleep = sleep
        self.waited = 0.0  # seconds spent waiting for a slot (stats)

    @contextmanager
    def slot(self, *, lease_seconds: float | None = None) -> Iterator[None]:
        """A slot for one request; a shorter `lease_seconds` than the budget's frees it sooner if
        this worker dies holding it."""
        client = _redis()
        if client is None:
            with self._local_semaphore():
                yield
            return
        lease = uuid.uuid4().hex
        self._acquire(client, lease, lease_seconds or self.lease_seconds)
        try:
            yield
        finally:
            try:
                client.zrem(self.key, lease)
            except Exception:  # Redis gone: the lease expires on its own
                logger.warning("could not release a Canvas request slot", exc_info=True)

    def _acquire(self, client, lease: str, lease_seconds: float) -> None:
        waited = 0
        while True:
            now = time.time()
            try:
                got = client.eval(
                    _ACQUIRE,
                    1,
                    self.key,
                    now,
                    self.cap,
                    now + lease_seconds,
                    lease,
                    int(max(lease_seconds, self.lease_seconds)) + 60,
                )
            except Exception:
                # Without Redis there is no shared budget; Canvas's own throttle still protects it.
                logger.warning("Canvas request budget unavailable (Redis); sending without it", exc_info=True)
                return
            if got:
                return
            delay = random.uniform(0.05, 0.25)
            waited += 1
            self.waited += delay
            self._sleep(delay)

    @contextmanager
    def _local_semaphore(self) -> Iterator[None]:
        with _local_lock:
            semaphore = _local.get(self.key)
            if semaphore is None:
                semaphore = _local[self.key] = threading.BoundedSemaphore(self.cap)
        started = time.perf_counter()
        semaphore.acquire()
        self.waited += time.perf_counter() - started
        try:
            yield
        finally:
            semaphore.release()

    def in_flight(self) -> int:
        """Leases held now (Redis only; tests and the admin read it)."""
        client = _redis()
        if client is None:
            return 0
        client.zremrangebyscore(self.key, "-inf", time.time())
        return int(client.zcard(self.key))
