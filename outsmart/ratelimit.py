"""Fixed-window counters in the shared cache (Redis in production), so a limit holds across
every web process. Used for failed second factors here and failed code redemptions later."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the current window ends

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _key(limit: Limit, ident: str, now: float) -> tuple[str, int]:
    window_index = int(now // limit.window)
    # The identifier may be an email or IP: hash it so the cache holds no personal data.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    remaining = int((window_index + 1) * limit.window - now) + 1
    return f"rl:{limit.name}:{digest}:{window_index}", remaining


def check(limit: Limit, ident: str) -> Verdict:
    """Whether `ident` is still under the limit, without counting anything."""
    now = time.time()
    key, remaining = _key(limit, ident, now)
    used = cache.get(key, 0)
    return Verdict(allowed=used < limit.count, retry_after=remaining)


def hit(limit: Limit, ident: str) -> Verdict:
    """Count one failure; the verdict says whether `ident` is still under the limit."""
    now = time.time()
    key, remaining = _key(limit, ident, now)
    cache.add(key, 0, timeout=remaining + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=remaining + 5)
        used = 1
    return Verdict(allowed=used <= limit.count, retry_after=remaining)
