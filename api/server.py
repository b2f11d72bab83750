"""Serve the twin API with uvicorn inside another service's event loop (the alert service's).

`ApiServer` is a companion of `analytics.alerts.service.AlertService`: the composition
root hands it to the service, which starts it once its AlertManager exists, so the API
reads and changes the same live state without a second writer on the SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from analytics.alerts.manager import AlertManager
from api.auth import ApiToken


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Where to serve the HTTP API, and who may use it."""

    tokens: list[ApiToken]
    host: str = "127.0.0.1"
    port: int = 8080


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the owner of the event loop handles SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to the application (uvicorn would install its own)."""
        yield


class ApiServer:
    """The HTTP API as a companion of the alert service."""

    def __init__(self, options: ApiOptions) -> None:
        self.options = options
        self.server: EmbeddedServer | None = None

    async def start(self, manager: AlertManager, tg: asyncio.TaskGroup) -> None:
        """Build the app around `manager`, serve it in `tg`, return once uvicorn is listening."""
        from api.app import create_app

        app = create_app(manager, self.options.tokens)
        # log_config=None: keep the application's logging setup; lifespan off: the app has none.
        # timeout_graceful_shutdown: a client holding a connection open must not stall a shutdown.
        config = uvicorn.Config(app, host=self.options.host, port=self.options.port, log_config=None,
                                lifespan="off", access_log=False, timeout_graceful_shutdown=3)
        server = self.server = EmbeddedServer(config)
        task = tg.create_task(self._serve(server), name="alerts-api")
        while not server.started:
            if task.done():
                return
            await asyncio.sleep(0.02)

    @staticmethod
    async def _serve(server: uvicorn.Server) -> None:
        task = asyncio.create_task(server.serve())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Let uvicorn close its sockets and connections instead of cancelling it mid-request.
            server.should_exit = True
            await task
            raise
