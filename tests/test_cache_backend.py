"""The production cache backend (skillsforward.cache.RedisCache) against a real Redis."""

import threading

import pytest
from django.conf import settings as django_settings

from skillsforward.cache import RedisCache

pytestmark = pytest.mark.integration


def _cache(prefix: str) -> RedisCache:
    return RedisCache(django_settings.REDIS_URL, {"KEY_PREFIX": prefix})


def test_production_settings_use_it():
    from skillsforward import settings as production

    if production.REDIS_URL:
        assert production.CACHES["default"]["BACKEND"] == "skillsforward.cache.RedisCache"


def test_one_client_per_pool_reused_by_every_call():
    cache = _cache("sfb-test-cache-reuse")
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client  # Django's own builds one per call
    cache.set("k", {"learner": "Ada", "points": 12}, 30)
    assert cache.get("k") == {"learner": "Ada", "points": 12}
    assert cache.get_many(["k", "missing"]) == {"k": {"learner": "Ada", "points": 12}}
    assert cache.delete("k") and cache.get("k") is None


def test_the_shared_client_serves_threads_at_once():
    cache = _cache("sfb-test-cache-threads")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"t{n}-{i}", n * 1000 + i, 30)
                assert cache.get(f"t{n}-{i}") == n * 1000 + i
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    cache.delete_many([f"t{n}-{i}" for n in range(8) for i in range(50)])  # clear() would flush the db
