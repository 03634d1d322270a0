"""Settings come from the environment and fail loudly, naming the variable, on a bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from foaf.env import Env, redact_url


def test_a_malformed_boolean_names_its_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG='maybe'"):
        Env({"DJANGO_DEBUG": "maybe"}).boolean("DJANGO_DEBUG", False)


def test_a_malformed_number_names_its_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE='ten' is not a whole number"):
        Env({"DATABASE_CONN_MAX_AGE": "ten"}).integer("DATABASE_CONN_MAX_AGE", 0)


def test_a_number_below_its_minimum_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="below its minimum"):
        Env({"X": "-1"}).integer("X", 0, minimum=0)


def test_an_unsupported_url_scheme_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL: scheme 'mysql'") as caught:
        Env({"DATABASE_URL": "mysql://u:hunter2@db/x"}).url("DATABASE_URL", ("postgres",))
    assert "hunter2" not in str(caught.value)


def test_a_secret_can_come_from_a_file(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-value\n")
    assert Env({"SECRET_KEY_FILE": str(secret)}).string("SECRET_KEY") == "s3cret-value"


def test_the_variable_itself_wins_over_its_file(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file")
    assert Env({"SECRET_KEY": "direct", "SECRET_KEY_FILE": str(secret)}).string("SECRET_KEY") == "direct"


def test_an_unreadable_secret_file_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE: cannot read"):
        Env({"SECRET_KEY_FILE": "/nonexistent/secret"}).string("SECRET_KEY")


def test_a_required_value_that_is_missing_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        Env({}).string("SECRET_KEY", required=True)


def test_passwords_are_redacted_from_urls() -> None:
    assert redact_url("postgres://app:pw@db:5432/foaf") == "postgres://app:***@db:5432/foaf"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "oracle://x/y", "DATABASE_URL: scheme 'oracle'"),
        ("REDIS_URL", "http://127.0.0.1", "REDIS_URL: scheme 'http'"),
        ("LEGACY_DATABASE_URL", "postgres://x/y", "LEGACY_DATABASE_URL: scheme 'postgres'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' is not one of"),
        ("FOAF_ENV", "staging", "FOAF_ENV='staging' is not one of"),
    ],
)
def test_the_service_refuses_to_start_on_a_bad_setting(project_env, variable: str, value: str, message: str) -> None:
    project_env[variable] = value
    run = subprocess.run(
        [sys.executable, "manage.py", "check"], env=project_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert message in run.stderr


def test_production_refuses_to_start_without_a_secret_key(project_env) -> None:
    project_env.update({"FOAF_ENV": "production", "ALLOWED_HOSTS": "bridge.example"})
    project_env.pop("SECRET_KEY", None)
    project_env.pop("SECRET_KEY_FILE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "check"], env=project_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "SECRET_KEY must be set" in run.stderr


def test_production_refuses_to_start_without_a_key_encryption_key(project_env) -> None:
    project_env.update({"FOAF_ENV": "production", "ALLOWED_HOSTS": "bridge.example", "SECRET_KEY": "s" * 40})
    project_env.pop("FOAF_KEY_ENCRYPTION_KEY", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "check"], env=project_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "FOAF_KEY_ENCRYPTION_KEY must be set" in run.stderr


def test_a_key_encryption_key_of_the_wrong_length_is_refused(project_env) -> None:
    project_env["FOAF_KEY_ENCRYPTION_KEY"] = "abcd"
    run = subprocess.run(
        [sys.executable, "manage.py", "check"], env=project_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "FOAF_KEY_ENCRYPTION_KEY must be 64 hex digits" in run.stderr
