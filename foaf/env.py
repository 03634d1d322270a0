"""Typed readers for settings from the environment.

Each reader fails loudly with ``ImproperlyConfigured`` naming the variable when a value is
malformed. Secrets may come from a file: ``NAME_FILE=/run/secrets/name`` is read when ``NAME``
itself is unset (trailing newline stripped), the convention Docker and Kubernetes secrets use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Reads settings from a mapping (``os.environ`` by default), failing loudly on bad values."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        """The variable's value, or the content of the file named by ``NAME_FILE``, or None."""
        value = self.environ.get(name)
        if value is not None:
            return value
        path = self.environ.get(f"{name}_FILE")
        if path is None:
            return None
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path!r}: {exc.strerror}") from exc

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise ImproperlyConfigured(f"{name} must be set (or {name}_FILE naming a file that holds it)")
            if default is None:
                return ""
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        folded = value.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off")

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below its minimum {minimum}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={number} is above its maximum {maximum}")
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default).strip().lower()
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}")
        return value

    def strings(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(self, name: str, schemes: tuple[str, ...], default: str = "") -> str:
        """A URL whose scheme is one of ``schemes``; empty when unset and no default."""
        value = self.string(name, default).strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name}: scheme {parts.scheme or '(none)'!r} is not supported; expected one of {', '.join(schemes)}"
            )
        if parts.scheme not in ("sqlite", "file") and not parts.hostname and not parts.path.strip("/"):
            raise ImproperlyConfigured(f"{name}: {redact_url(value)!r} names no host")
        return value


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to log and show."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
