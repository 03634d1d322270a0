"""Every relay test starts with fresh rate-limit buckets (its own namespace), so one test's traffic
from 127.0.0.1 never throttles the next, and runs sharing a Redis never share buckets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings: Any) -> None:
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex
