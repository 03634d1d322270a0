"""Rate limits of the legacy API, which never change a legacy answer (docs/legacy-api.md).

- Login attempts: two token buckets, one per user name (lower-cased, hashed into the bucket's name)
  and one per client address, on the relay's bucket store (``relay.ratelimit``: Redis when
  ``REDIS_URL`` is set, else this process). Every attempt takes from both; an attempt while either
  is empty is refused exactly as a wrong password is, without checking the password.
- Handle lookups: a counter per client address per clock minute (Rails' 60), in the cache.

The client address is the relay's (``FOAF_RELAY_TRUSTED_PROXIES`` names the proxies whose
``X-Forwarded-For`` is believed). If the store is unreachable the request is let through and the
fault logged, as the relay does: a limit slows guessing, it authenticates no one.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from relay import ratelimit as buckets

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    return buckets.client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def _take(kind: str, who: str, rate: tuple[int, int], now: float) -> bool:
    name = f"foaf:legacy:login:{settings.LEGACY_RATE_NAMESPACE}:{kind}:{who}"
    try:
        return buckets.store().take(name, buckets.Rate(*rate), now).allowed
    except Exception as exc:  # Redis down: let the attempt through (see the module's docstring)
        logger.error("legacy api: login rate limit %s not applied: %s", kind, exc)
        return True


def login_attempt_allowed(user_name: str, address: str) -> bool:
    """Take one attempt from the user name's and the address's buckets; False when either is empty."""
    now = time.time()
    name_key = hashlib.sha256(user_name.strip().lower().encode("utf-8")).hexdigest()[:32]
    by_name = _take("user_name", name_key, settings.LEGACY_LOGIN_RATE_USER_NAME, now)
    by_address = _take("address", address, settings.LEGACY_LOGIN_RATE_ADDRESS, now)
    return by_name and by_address


def handle_lookup_allowed(address: str, *, now: float | None = None) -> bool:
    """Count one handle lookup for this address in this clock minute; False past the limit."""
    minute = int((time.time() if now is None else now) // 60)
    key = f"foaf:legacy:handle:{settings.LEGACY_RATE_NAMESPACE}:{address}:{minute}"
    try:
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
    except Exception as exc:
        logger.error("legacy api: handle lookup limit not applied: %s", exc)
        return True
    return count <= settings.LEGACY_HANDLE_LOOKUPS_PER_MINUTE
