"""The HTTP surface: probes, the one error format, request ids, the OpenAPI schema and docs."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, override_settings

from foaf.errors import ErrorCode
from foaf.logs import JsonFormatter, RequestIdFilter, request_id_var

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency_by_name(client: Client) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "channel_layer", "legacy_source"}
    assert response.status_code == 200, body
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["status"] == "ok"


def test_readyz_answers_503_and_names_the_dependency_that_is_down(client: Client) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    with override_settings(LEGACY_DATABASE_URL="mysql://root@127.0.0.1:9/nowhere"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["legacy_source"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"


def test_an_unknown_path_answers_in_the_api_error_format(client: Client) -> None:
    response = client.get("/no/such/path")
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == ErrorCode.NOT_FOUND.value
    assert body["request_id"] == response["X-Request-ID"]


def test_a_wrong_method_answers_with_its_typed_code(client: Client) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_request_id_offered_by_the_caller_is_echoed(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"


def test_an_unsafe_request_id_is_replaced(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_the_openapi_schema_is_served(client: Client) -> None:
    response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/readyz" in schema["paths"]


def test_the_browsable_api_docs_are_served_without_the_network(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content  # assets come from the sidecar package


def test_json_logs_carry_the_request_id() -> None:
    token = request_id_var.set("rid-42")
    try:
        record = logging.LogRecord("foaf.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        record.trustline_id = 7
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world"
    assert line["request_id"] == "rid-42"
    assert line["level"] == "info"
    assert line["trustline_id"] == 7
