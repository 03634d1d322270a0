"""docs/relay/vectors.json is current, and its valid vectors check out without the relay's decoder."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from foaf.bilateral import jcs
from foaf.bilateral.crypto import verify
from relay.protocol import EventError, decode_event
from tests.relay import vectors

pytestmark = pytest.mark.core
VECTORS: dict[str, Any] = json.loads(vectors.PATH.read_text())


def test_the_vector_file_is_what_the_generator_writes() -> None:
    assert vectors.PATH.read_text() == vectors.render(), "run: .venv/bin/python -m tests.relay.vectors"


def test_about_a_third_of_the_vectors_are_valid_and_the_rest_name_an_error() -> None:
    valid = [v for v in VECTORS["vectors"] if v["valid"]]
    assert 0 < len(valid) < len(VECTORS["vectors"])
    assert all("error" in v for v in VECTORS["vectors"] if not v["valid"])


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["description"])
def test_each_vector_decodes_as_it_says(vector: dict[str, Any]) -> None:
    data = vector["input"].encode("utf-8")
    if not vector["valid"]:
        with pytest.raises(EventError) as caught:
            decode_event(data, now=vector["now"])
        assert (caught.value.code.value, caught.value.details) == (vector["error"], vector["details"])
        return
    assert decode_event(data, now=vector["now"]).id == vector["id"]
    # What a client in another language does, step by step, with only JCS, SHA-256 and Ed25519:
    envelope = json.loads(data)
    unsigned = {k: v for k, v in envelope.items() if k not in ("sig", "cosig")}
    assert jcs.canonicalize(unsigned).decode() == vector["unsigned_canonical"]
    digest = hashlib.sha256(vector["unsigned_canonical"].encode()).digest()
    assert digest.hex() == vector["id"]
    message = b"FOAF-RELAY-1/event\x00" + digest
    assert message.hex() == vector["signing_message_hex"]
    verify(bytes.fromhex(envelope["author"]), message, bytes.fromhex(envelope["sig"]))
    if "cosig" in envelope:
        body = envelope["body"]
        other = body["b"] if envelope["author"] == body["a"] else body["a"]
        verify(bytes.fromhex(other), message, bytes.fromhex(envelope["cosig"]))
    assert jcs.canonicalize(envelope).decode() == vector["canonical"]
