"""Django's Redis cache with one client object per connection pool.

`django.core.cache.backends.redis.RedisCacheClient.get_client` builds a new `redis.Redis` for
every cache call; each one copies redis-py's table of ~170 response callbacks, which made the
client construction the largest single cost of a throttled API write (two cache calls per
request). A `redis.Redis` is safe to share between threads (it takes a connection from its
pool per command), so one per pool is kept and reused.

Keys are not checked against memcached's rules (`validate_key` warns about keys longer than
250 characters or holding spaces or control characters, which Redis takes as they are): the
check walks every character of every key in Python, and the patient list reads 100 keys a page.
Behaviour is otherwise Django's.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_scripts: dict[str, Any] = {}


def run_script(cache: RedisCache, source: str, *, keys: list[Any], args: list[Any]) -> Any:
    """Run a Lua script on a Redis cache's write client: EVALSHA, loaded again if the server
    lost it (redis-py's `Script`, one per source and process, whichever client runs it).
    `keys` are the backend's keys (`cache.make_and_validate_key`)."""
    client = cache._cache.get_client(write=True)
    if (script := _scripts.get(source)) is None:
        script = _scripts[source] = client.register_script(source)
    return script(keys=keys, args=args, client=client)


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        if (client := self._clients.get(index)) is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    def validate_key(self, key: str) -> None:
        """Any key will do for Redis (memcached's rules do not apply)."""
