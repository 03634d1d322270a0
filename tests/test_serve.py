"""`make run`'s server end to end: a real Daphne process with its Celery worker, on loopback."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def websocket_first_frame(port: int, path: str) -> dict[str, object]:
    """Open a WebSocket by hand (RFC 6455 handshake) and return the first text frame as JSON."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost:{port}\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        while len(rest) < 2:
            rest += sock.recv(4096)
        length = rest[1] & 0x7F
        offset = 2
        if length == 126:
            length, offset = int.from_bytes(rest[2:4], "big"), 4
        while len(rest) < offset + length:
            rest += sock.recv(4096)
        return json.loads(rest[offset : offset + length])  # type: ignore[no-any-return]


@pytest.fixture
def served(tmp_path: Path, project_env: dict[str, str]):  # type: ignore[no-untyped-def]
    project_env.setdefault("FOAF_DATA_DIR", str(tmp_path / "data"))
    project_env["FOAF_DATA_DIR"] = str(tmp_path / "data")
    project_env.pop("DATABASE_URL", None)  # its own SQLite file, as `make run` on a fresh clone
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=project_env, check=True, timeout=300)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=project_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.3)
        yield port, log, project_env
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_served_stack_answers_http_websockets_and_runs_background_work(served) -> None:  # type: ignore[no-untyped-def]
    port, log, env = served
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
        assert json.load(response)["status"] == "ok"
    with urllib.request.urlopen(f"{base}/admin/login/", timeout=10) as response:
        assert b"Django" in response.read()
    with urllib.request.urlopen(f"{base}/static/admin/css/base.css", timeout=10) as response:
        assert response.status == 200
    hello = websocket_first_frame(port, "/ws/relay/")
    assert hello["type"] == "hello" and hello["protocol"] == "foaf-relay/1"
    assert len(str(hello["challenge"])) == 64  # for the member's signed answer (docs/relay.md §13.3)
    # The worker that `serve` started takes a task sent from another process.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from foaf.tasks import echo; "
            "print(echo.delay('from-outside').get(timeout=60)['payload'])",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "foaf.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip() == "from-outside", probe.stderr + log.read_text()
    assert "demo / crawford-bay-demo" in log.read_text()
