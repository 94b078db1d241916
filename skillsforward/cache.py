"""The Redis cache backend, with one Redis client per connection pool.

Django's RedisCacheClient builds a new redis.Redis for every cache call, and each one registers
about 170 response callbacks: on the learner page, whose views are mostly two cache reads, that
was a measurable share of a request. A redis.Redis over a pool is safe to share between threads
(the pool hands each command its own connection), so one per pool is kept and reused.
"""

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _PooledClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # not in the stubs
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = redis.Redis(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _PooledClients
