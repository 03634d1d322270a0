"""The imported Devise password hashes: checked as Devise checks them, upgraded on a good login.

Devise stores ``BCrypt::Password.create(password + pepper, cost: stretches)``: a ``$2a$<cost>$``
bcrypt hash of the password with the application's pepper appended (none by default). bcrypt reads
at most 72 bytes and, in Ruby's C extension, stops at a NUL byte; both are kept here so that every
password Devise accepts is accepted (Python's bcrypt would refuse such input instead).
"""

from __future__ import annotations

import functools
import re

import bcrypt
from django.conf import settings

_COST = re.compile(r"\A\$2[abxy]\$(\d\d)\$")
_MAX_BYTES = 72


def _secret(password: str) -> bytes:
    raw = (password + settings.LEGACY_DEVISE_PEPPER).encode("utf-8")
    return raw.split(b"\0", 1)[0][:_MAX_BYTES]


def cost_of(hashed: str) -> int | None:
    match = _COST.match(hashed)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=4)
def _decoy(cost: int) -> bytes:
    return bcrypt.hashpw(b"decoy", bcrypt.gensalt(rounds=cost, prefix=b"2a"))


def check(password: str, hashed: str | None) -> bool:
    """Devise's ``valid_password?``. Without a usable hash a decoy is checked, so that an unknown
    user name costs the same time as a wrong password."""
    if not hashed or cost_of(hashed) is None:
        bcrypt.checkpw(_secret(password), _decoy(settings.LEGACY_BCRYPT_COST))
        return False
    try:
        return bcrypt.checkpw(_secret(password), hashed.encode("ascii"))
    except ValueError:
        return False


def needs_upgrade(hashed: str) -> bool:
    cost = cost_of(hashed)
    return cost is not None and cost < settings.LEGACY_BCRYPT_COST


def digest(password: str) -> str:
    """A new Devise-compatible hash at the configured cost (``$2a$``, so Devise can still read it)."""
    return bcrypt.hashpw(_secret(password), bcrypt.gensalt(rounds=settings.LEGACY_BCRYPT_COST, prefix=b"2a")).decode()
