"""Typed errors of the cut-over, each with a stable ``code`` an operator or a script can match."""

from __future__ import annotations

from migration.errors import CodedError


class CutoverError(CodedError):
    """Base of the cut-over's errors: ``code`` is stable, the message may change."""

    code = "cutover_error"


class PhaseTransitionRefused(CutoverError):
    """A move the phase table does not allow, or whose precondition does not hold."""

    code = "phase_transition_refused"


class NoUpstream(CutoverError):
    """A phase that needs Rails while ``LEGACY_UPSTREAM_URL`` is unset."""

    code = "no_upstream"


class CatchUpMissing(CutoverError):
    """A switch without a finished import run that started after the freeze."""

    code = "catch_up_missing"


class ExportRefused(CutoverError):
    """An export that must not run: never switched, no target, or a bad target."""

    code = "export_refused"


class ExportRunning(CutoverError):
    """Another export_to_legacy holds the legacy database's export lock."""

    code = "export_running"


class ExportConflict(CutoverError):
    """The legacy database holds a row the export would have to overwrite with different data
    (a trustline id taken by another pair): something wrote credit to Rails after the freeze."""

    code = "export_conflict"
