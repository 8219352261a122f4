"""The cache backend: Redis, answering as an empty cache while Redis cannot be reached.

Redis is a cache here, never the record: sessions are `cached_db` (the database holds them),
and the only other users are rate-limit counters (outsmart.ratelimit, allauth). So a Redis
outage must not take the site down with it. While Redis does not answer:

- `get`, `get_many` and `has_key` answer as a miss; `add`, `touch` and `delete` answer "not
  done" (False); `set`, `set_many`, `delete_many` and `clear` do nothing. Each failure is logged
  as a warning (the first one, then at most one a minute per process), and the recovery too.
- `incr` and `decr` are not softened: a counter that silently stopped counting would be a limit
  that silently stopped limiting. Their callers decide what a failure means.
- Inside `strict()`, every operation raises CacheUnavailable instead of degrading:
  outsmart.ratelimit uses it to tell "no failures counted yet" from "the counter cannot be read",
  and to fail closed where a limit protects a secret (see its docstring).
- allauth's rate limits take a lock with `add` first; a failed `add` keeps the lock from being
  taken, so allauth refuses (fails closed) while Redis is away; outsmart.views.too_many_requests
  tells the person it is temporary.
- A key whose write or delete was lost is remembered (per process) and deleted once Redis
  answers again, so that a session changed or ended in the database during the outage is not
  served stale from a Redis that kept its data (a network split rather than a restart).

Timeouts are short (settings.CACHES): a Redis that accepts connections and never answers costs
a request half a second per cache operation, not a hang.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

LOG_EVERY = 60.0  # seconds between two warnings about the same outage, per process
MAX_STALE_KEYS = 10_000  # keys remembered for deletion once Redis is back

_strict: contextvars.ContextVar[bool] = contextvars.ContextVar("cache_strict", default=False)


class CacheUnavailable(Exception):
    """Redis did not answer (raised only inside `strict()`)."""


@contextmanager
def strict() -> Iterator[None]:
    """Within this block, a cache operation that Redis cannot answer raises CacheUnavailable
    instead of answering as a miss."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


class DegradingRedisCache(RedisCache):
    """django.core.cache.backends.redis.RedisCache that degrades to a miss (module docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_warning = 0.0
        self._failures = 0
        self._stale: set[str] = set()

    # --- health ----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether the last operation of this process reached Redis."""
        return self._down_since is None

    def _failed(self, operation: str, error: Exception, keys=()) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self._down_since is None:
                self._down_since = now
            for key in keys:
                if len(self._stale) < MAX_STALE_KEYS:
                    self._stale.add(key)
            warn = now - self._last_warning >= LOG_EVERY
            if warn:
                self._last_warning = now
                failures, self._failures = self._failures, 0
        if warn:
            logger.warning(
                "cache unavailable (%s on %s, %s failures); answering as an empty cache",
                type(error).__name__,
                operation,
                failures,
            )

    def _drop_stale(self) -> None:
        """Delete the keys whose write or delete was lost, before anything else is read or
        written: the first answer after an outage must not be a stale one."""
        with self._lock:
            stale, self._stale = self._stale, set()
        if not stale:
            return
        try:
            self._cache.delete_many(list(stale))
        except RedisError:
            with self._lock:
                self._stale |= stale
            raise
        logger.warning("cache: %s keys written or deleted during the outage dropped", len(stale))

    def _succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            was_down, self._down_since = self._down_since, None
            self._failures = 0
            self._last_warning = 0.0
        if was_down is not None:
            logger.warning("cache reachable again after %.0f s", time.monotonic() - was_down)

    def _run(self, operation: str, call, fallback, keys=()):
        try:
            if self._stale:
                self._drop_stale()
            result = call()
        except RedisError as error:
            if _strict.get():  # the caller handles it; its keys are not dropped later
                self._failed(operation, error)
                raise CacheUnavailable(f"{operation}: {type(error).__name__}") from error
            self._failed(operation, error, keys)
            return fallback
        self._succeeded()
        return result

    # --- the cache API -----------------------------------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        stale = [self.make_and_validate_key(key, version=version)]
        call = partial(RedisCache.add, self, key, value, timeout, version)
        return self._run("add", call, False, stale)

    def get(self, key, default=None, version=None):
        return self._run("get", partial(RedisCache.get, self, key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        stale = [self.make_and_validate_key(key, version=version)]
        self._run("set", partial(RedisCache.set, self, key, value, timeout, version), None, stale)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._run("touch", partial(RedisCache.touch, self, key, timeout, version), False)

    def delete(self, key, version=None):
        stale = [self.make_and_validate_key(key, version=version)]
        return self._run("delete", partial(RedisCache.delete, self, key, version), False, stale)

    def get_many(self, keys, version=None):
        return self._run("get_many", partial(RedisCache.get_many, self, keys, version), {})

    def has_key(self, key, version=None):
        return self._run("has_key", partial(RedisCache.has_key, self, key, version), False)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        stale = [self.make_and_validate_key(key, version=version) for key in data]
        call = partial(RedisCache.set_many, self, data, timeout, version)
        self._run("set_many", call, [], stale)
        return []

    def delete_many(self, keys, version=None):
        stale = [self.make_and_validate_key(key, version=version) for key in keys]
        call = partial(RedisCache.delete_many, self, keys, version)
        self._run("delete_many", call, None, stale)

    def clear(self):
        return self._run("clear", partial(RedisCache.clear, self), False)

    def incr(self, key, delta=1, version=None):
        # Not softened (module docstring): reported, and CacheUnavailable inside strict().
        try:
            if self._stale:
                self._drop_stale()
            result = super().incr(key, delta, version)
        except RedisError as error:
            self._failed("incr", error)
            if _strict.get():
                raise CacheUnavailable(f"incr: {type(error).__name__}") from error
            raise
        self._succeeded()
        return result


def cache_available() -> bool:
    """Whether the default cache reached Redis on its last operation in this process (always
    True for other backends)."""
    from django.core.cache import cache

    return getattr(cache, "available", True)
