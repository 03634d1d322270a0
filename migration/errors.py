"""The migration app's typed errors share one shape: a stable ``code`` an operator or a script can
match, and a message for people that may change. Each part (``migration.legacy``,
``migration.cutover``) has its own base below this one, so callers catch only their part's."""

from __future__ import annotations


class CodedError(Exception):
    """An error with a stable ``code`` (the class's, or one given) and a message."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
