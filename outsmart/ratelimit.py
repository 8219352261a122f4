"""Fixed-window counters in the shared cache (Redis in production), so a limit holds across
every web process. Used for failed second factors, failed code redemptions and invitation links.

When the counters cannot be read or written (Redis away; see outsmart.cache), what happens
depends on what the limit protects, and is decided per limit:

- `fail_closed=True`, for limits that stop someone guessing a secret (failed access-code
  redemptions, failed second factors): while the counter is unavailable nothing is checked at
  all, and `check` and `hit` raise LimitUnavailable. The person is told the check is temporarily
  unavailable and to try again in a minute (503), and each refusal is logged as an error. A
  counter that cannot count must not turn a limit of ten tries into an unlimited number.
- otherwise (the default: limits against noise and abuse that guard no secret, e.g. malformed
  invitation links), the attempt is allowed and a warning is logged.

Sessions and ordinary pages are not affected: sessions are kept in the database and only
cached in Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from outsmart.cache import CacheUnavailable, strict

logger = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER = 60  # seconds: what the person is asked to wait while Redis is away


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds
    fail_closed: bool = False  # refuse everything while the counter is unavailable


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the current window ends

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class LimitUnavailable(Exception):
    """A fail-closed limit's counter cannot be read or written: refuse, and ask the person to
    try again in a minute."""

    retry_after = UNAVAILABLE_RETRY_AFTER

    def __init__(self, limit: Limit):
        super().__init__(f"rate limit {limit.name}: counter unavailable")
        self.limit = limit


def _key(limit: Limit, ident: str, now: float) -> tuple[str, int]:
    window_index = int(now // limit.window)
    # The identifier may be an email or IP: hash it so the cache holds no personal data.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    remaining = int((window_index + 1) * limit.window - now) + 1
    return f"rl:{limit.name}:{digest}:{window_index}", remaining


def _unavailable(limit: Limit, remaining: int) -> Verdict:
    if limit.fail_closed:
        logger.error("rate limit %s: counter unavailable; refused (fail closed)", limit.name)
        raise LimitUnavailable(limit)
    logger.warning("rate limit %s: counter unavailable; allowed (fail open)", limit.name)
    return Verdict(allowed=True, retry_after=remaining)


def check(limit: Limit, ident: str) -> Verdict:
    """Whether `ident` is still under the limit, without counting anything."""
    now = time.time()
    key, remaining = _key(limit, ident, now)
    try:
        with strict():
            used = cache.get(key, 0)
    except CacheUnavailable:
        return _unavailable(limit, remaining)
    return Verdict(allowed=used < limit.count, retry_after=remaining)


def hit(limit: Limit, ident: str) -> Verdict:
    """Count one failure; the verdict says whether `ident` is still under the limit."""
    now = time.time()
    key, remaining = _key(limit, ident, now)
    try:
        with strict():
            cache.add(key, 0, timeout=remaining + 5)
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=remaining + 5)
                used = 1
    except CacheUnavailable:
        return _unavailable(limit, remaining)
    return Verdict(allowed=used <= limit.count, retry_after=remaining)
