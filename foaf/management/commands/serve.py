"""``manage.py serve``: the whole service in one command, as ``make run`` uses it.

Runs the ASGI app (HTTP API, admin, the relay's WebSockets) under Daphne in the foreground and a
Celery worker with an embedded beat scheduler beside it, stopping the worker when the server
stops. In production run the three as separate processes instead (see docker/compose.yaml).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the API, the relay's WebSocket endpoint and the admin over ASGI, with a Celery worker and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="do not start the Celery worker and beat")

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
        worker: subprocess.Popen[bytes] | None = None
        if not no_worker:
            worker = subprocess.Popen(  # noqa: S603  (our own interpreter and fixed arguments)
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "foaf.celery",
                    "worker",
                    "--beat",
                    "--loglevel",
                    settings.LOG_LEVEL.lower(),
                    "--concurrency",
                    "2",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                ],
                env=os.environ.copy(),
                start_new_session=True,
            )
        base = f"http://{host}:{port}"
        broker = str(settings.CELERY_BROKER_URL).split(":")[0]
        background = f"Celery worker + beat on {broker}" if worker else "off"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "FOAF bridge is starting:",
                    f"  API docs    {base}/api/docs/",
                    f"  API schema  {base}/api/schema/",
                    f"  Admin       {base}/admin/   (demo login: demo / crawford-bay-demo)",
                    f"  Relay       ws://{host}:{port}/ws/relay/",
                    f"  Health      {base}/healthz  {base}/readyz",
                    f"  Background  {background}",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            )
        )
        try:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["-b", host, "-p", str(port), "foaf.asgi:application"])
        finally:
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
