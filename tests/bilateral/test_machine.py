"""The transition table is the single source: the spec's diagram and tables are generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foaf.bilateral import ErrorCode, LocalProtocolError, RemoteProtocolError
from foaf.bilateral.diagram import render
from foaf.bilateral.machine import TRANSITIONS, Event, MState, step

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_state_diagram_equals_the_generated_one() -> None:
    assert (ROOT / "docs/spec/bilateral-states.md").read_text(encoding="utf-8") == render()


def test_every_error_code_is_documented_in_the_spec() -> None:
    spec = (ROOT / "docs/spec/bilateral.md").read_text(encoding="utf-8")
    missing = [c.value for c in ErrorCode if f"`{c.value}`" not in spec]
    assert not missing


def test_every_transition_row_is_unique() -> None:
    keys = [(t.state, t.event, t.guard) for t in TRANSITIONS]
    assert len(keys) == len(set(keys))


def test_an_unlisted_transition_raises_with_the_right_fault() -> None:
    with pytest.raises(LocalProtocolError) as e:
        step(MState.IDLE, Event.LOCAL_ACCEPT, "no such guard")
    assert e.value.code is ErrorCode.ILLEGAL_TRANSITION
    with pytest.raises(RemoteProtocolError):
        step(MState.IDLE, Event.PEER_ACCEPT, "no such guard")


def test_importing_the_core_pulls_in_neither_django_nor_celery() -> None:
    code = "import foaf.bilateral, sys; assert 'django' not in sys.modules and 'celery' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
