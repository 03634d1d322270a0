"""Token buckets for the relay's rate limits (docs/relay.md §16).

A bucket holds at most ``burst`` tokens and gains ``per_minute / 60`` tokens a second; a request
takes one, and is refused while the bucket is empty, with the seconds until a token is back
(``retry_after``). Buckets are named by what they limit (``address``, ``key``, ``deposit``,
``connect``) and who (a client address, a key); the rates are ``settings.RELAY_RATE_LIMITS``.

Where the buckets live: in Redis when ``REDIS_URL`` is set, so every web process shares them (one
Lua script reads, refills and takes in one step: no two processes can spend the same token); in
this process otherwise (the embedded single-process setup). A connection's own buckets (frames, and
refused frames before it is closed) are plain ``TokenBucket`` objects held by the connection.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings

from foaf.errors import ApiError, ErrorCode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    per_minute: int
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0

    @classmethod
    def named(cls, name: str) -> Rate:
        per_minute, burst = settings.RELAY_RATE_LIMITS[name]
        return cls(per_minute, burst)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds until a token is back (0 when allowed)


class TokenBucket:
    """One bucket in memory, for one owner (a connection); not shared between threads."""

    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate.burst)
        self.updated = now

    def take(self, now: float, cost: int = 1) -> Verdict:
        self.tokens = min(float(self.rate.burst), self.tokens + max(0.0, now - self.updated) * self.rate.per_second)
        self.updated = max(self.updated, now)
        if self.tokens >= cost:
            self.tokens -= cost
            return Verdict(True, 0.0)
        return Verdict(False, (cost - self.tokens) / self.rate.per_second)

    def full(self, now: float) -> bool:
        return self.tokens + max(0.0, now - self.updated) * self.rate.per_second >= self.rate.burst


class BucketStore(Protocol):
    def take(self, name: str, rate: Rate, now: float, cost: int = 1) -> Verdict: ...


class LocalStore:
    """Buckets of this process. A full bucket is the same as none, so it is what is dropped when
    the store grows past ``max_buckets`` (nothing is forgotten that would change a verdict)."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.max_buckets = max_buckets

    def take(self, name: str, rate: Rate, now: float, cost: int = 1) -> Verdict:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None or bucket.rate != rate:
                if len(self._buckets) >= self.max_buckets:
                    self._prune(now)
                bucket = self._buckets[name] = TokenBucket(rate, now)
            return bucket.take(now, cost)

    def _prune(self, now: float) -> None:
        for name in [n for n, b in self._buckets.items() if b.full(now)]:
            del self._buckets[name]
        while len(self._buckets) >= self.max_buckets:  # every bucket is busy: drop the oldest
            del self._buckets[next(iter(self._buckets))]


# KEYS[1]: the bucket; ARGV: per_second, burst, now (seconds, float), cost. Returns {allowed, retry_after}.
_TAKE = """
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * per_second)
  updated = now
end
local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / per_second
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / per_second + 60) * 1000))
return {allowed, tostring(retry_after)}
"""


class RedisStore:
    """Buckets in Redis, shared by every process of the relay."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._take = self._client.register_script(_TAKE)

    def take(self, name: str, rate: Rate, now: float, cost: int = 1) -> Verdict:
        allowed, retry_after = self._take(keys=[name], args=[rate.per_second, rate.burst, repr(now), cost])
        return Verdict(bool(int(allowed)), float(retry_after))


@lru_cache(maxsize=4)
def _store_for(redis_url: str) -> BucketStore:
    return RedisStore(redis_url) if redis_url else LocalStore()


def store() -> BucketStore:
    return _store_for(settings.REDIS_URL or "")


def take(limit: str, who: str, *, now: float | None = None, cost: int = 1) -> Verdict:
    """Take from the bucket of ``limit`` (a name in ``RELAY_RATE_LIMITS``) for ``who``.

    If the buckets cannot be reached (Redis down), the request is let through and the fault
    logged: a limit protects the relay, it does not authenticate anyone, and a relay that
    refused everyone while Redis restarts would do more harm than a minute without limits."""
    name = f"foaf:relay:rate:{settings.RELAY_RATE_NAMESPACE}:{limit}:{who}"
    try:
        return store().take(name, Rate.named(limit), time.time() if now is None else now, cost)
    except (OSError, _redis_errors()) as e:
        logger.error("relay: rate limit %s not applied, the buckets are unreachable: %s", limit, e)
        return Verdict(True, 0.0)


def _redis_errors() -> type[Exception]:
    import redis

    return redis.RedisError


def throttled(limit: str, verdict: Verdict) -> ApiError:
    """HTTP 429 with ``Retry-After`` (whole seconds, at least 1)."""
    wait = retry_after_seconds(verdict)
    error = ApiError(
        ErrorCode.THROTTLED,
        f"Too many requests ({limit}); retry in {wait} s.",
        http_status=429,
        details={"limit": limit, "retry_after": wait},
    )
    error.wait = wait  # type: ignore[attr-defined]  # DRF's exception handler turns it into Retry-After
    return error


def retry_after_seconds(verdict: Verdict) -> int:
    return max(1, int(-(-verdict.retry_after // 1)))


def check(limit: str, who: str) -> None:
    """Raise HTTP 429 when the bucket is empty."""
    verdict = take(limit, who)
    if not verdict.allowed:
        raise throttled(limit, verdict)


# --- who is asking -----------------------------------------------------------------------------
def _trusted(address: Any, proxies: Iterable[str]) -> bool:
    return any(address in ipaddress.ip_network(net) for net in proxies)


def client_address(remote: str | None, forwarded_for: str | None) -> str:
    """The address to limit: the peer's, or behind trusted proxies the rightmost X-Forwarded-For
    entry that is not a trusted proxy. IPv6 addresses count by their /64 (one host's share)."""
    proxies = settings.RELAY_TRUSTED_PROXIES
    try:
        address = ipaddress.ip_address((remote or "").strip())
    except ValueError:
        return "unknown"
    if proxies and forwarded_for and _trusted(address, proxies):
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            try:
                candidate = ipaddress.ip_address(hop)
            except ValueError:
                break
            address = candidate
            if not _trusted(candidate, proxies):
                break
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
