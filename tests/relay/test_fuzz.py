"""Whatever bytes or JSON a client sends, decoding answers an event or an EventError, nothing else."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foaf.bilateral.errors import RemoteProtocolError
from relay.protocol import EventError, canonical_bytes, decode_event
from tests.relay.builders import T0
from tests.relay.test_protocol import every_kind

pytestmark = pytest.mark.core

EVENTS = every_kind()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=80) | st.floats(allow_nan=True),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def decode_or_refuse(data: Any) -> None:
    with contextlib.suppress(EventError):
        decode_event(data, now=T0)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EVENTS), st.booleans(), st.data())
def test_any_field_replaced_by_any_json_value_is_decoded_or_refused(
    envelope: dict[str, Any], in_body: bool, data: st.DataObject
) -> None:
    target = dict(envelope["body"]) if in_body else dict(envelope)
    name = data.draw(st.sampled_from([*target, "extra"]))
    target[name] = data.draw(json_values)
    changed = {**envelope, "body": target} if in_body else target
    decode_or_refuse(changed)
    try:
        as_bytes = canonical_bytes(changed)
    except RemoteProtocolError:  # outside the JSON profile (a float, a huge integer): no bytes to send
        return
    decode_or_refuse(as_bytes)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EVENTS), st.data())
def test_any_bytes_cut_or_flipped_are_decoded_or_refused(envelope: dict[str, Any], data: st.DataObject) -> None:
    raw = bytearray(canonical_bytes(envelope))
    i = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        raw[i] ^= data.draw(st.integers(1, 255))
    else:
        raw = raw[:i]
    decode_or_refuse(bytes(raw))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(EventError):
        decode_event(data, now=T0)
