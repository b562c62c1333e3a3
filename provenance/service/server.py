"""Running the service under uvicorn.

The checkpoint key is the service's alone: `custody` loads it.

uvicorn serves the application with one guard added to its HTTP protocol: a client
must finish sending a request's headers within `header_timeout` seconds (uvicorn
itself only times out idle keep-alive connections), so a slow client holding
connections open is cut off while others are served.
"""

from __future__ import annotations

import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from provenance.service.config import CONFIG_ENV, ServiceConfig
from provenance.service.custody import open_ledger


def factory() -> Any:
    """The application for a uvicorn worker (configuration from the environment)."""
    from provenance.service.app import create_app

    return create_app(ServiceConfig.from_env())


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not
    complete within the configured `header_timeout` seconds of its start, or of the
    first bytes of a later request on it (an idle kept-alive connection is uvicorn's
    keep-alive timeout's)."""

    _header_timer: Any = None
    header_timeout: float | None = None

    def _arm(self) -> None:
        self._disarm()
        if GuardedH11.header_timeout is None:
            GuardedH11.header_timeout = (
                ServiceConfig.from_env().header_timeout if CONFIG_ENV in os.environ else 10.0
            )
        self._header_timer = self.loop.call_later(GuardedH11.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        cycle: Any = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.close()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle: Any = self.cycle
        if self._header_timer is None and (cycle is None or cycle.response_complete):
            self._arm()  # the first bytes of another request on a kept-alive connection
        super().data_received(data)

    def handle_events(self) -> None:
        before: Any = self.cycle
        super().handle_events()
        after: Any = self.cycle
        if after is not None and after is not before:
            self._disarm()  # a request's headers arrived

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def run(config: ServiceConfig, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted; SIGTERM or SIGINT finish the batch in flight first."""
    import uvicorn

    # Fail here, before uvicorn starts, on a missing or exposed key or a missing ledger.
    open_ledger(config).close()
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run(
        "provenance.service.server:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=GuardedH11,
        timeout_keep_alive=config.idle_timeout,
        timeout_graceful_shutdown=30,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
