"""The one gRPC server bootstrap used by every service.

An asyncio server with the project's interceptor, message-size options,
standard ``grpc.health.v1`` health checking, server reflection (so grpcurl can
list and call every service), optional TLS, Prometheus metrics and a graceful
stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from octopack.common.interceptors import ServerInterceptor
from octopack.common.metrics import start_metrics_server
from octopack.common.settings import ServerSettings
from octopack.common.validation import Rules

log = logging.getLogger(__name__)
S = TypeVar("S", bound=ServerSettings)


@dataclass
class Service:
    """One gRPC service to mount: its full name and the generated ``add_*_to_server`` call."""

    name: str
    register: Callable[[grpc.aio.Server], None]
    #: Awaited after the server stopped (close pools, flush state).
    on_stop: Callable[[], Awaitable[None]] | None = None
    #: What its requests must satisfy (the service's ``validation`` module); checked before the servicer.
    rules: Rules | None = None


@dataclass
class RunningServer:
    """A started server and what tests and the CLI need to reach it."""

    server: grpc.aio.Server
    port: int
    host: str
    health: health.aio.HealthServicer
    services: Sequence[Service] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float | None = 5.0) -> None:
        """Report NOT_SERVING, let in-flight RPCs finish for ``grace`` seconds, then close."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for svc in self.services:
            if svc.on_stop is not None:
                await svc.on_stop()


def _options(settings: ServerSettings) -> list[tuple[str, int]]:
    size = settings.max_message_mb * 1024 * 1024
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        ("grpc.so_reuseport", 0),
    ]


def _credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("TLS needs both tls_cert and tls_key")
    return grpc.ssl_server_credentials([(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())])


async def start_server(settings: ServerSettings, services: Sequence[Service]) -> RunningServer:
    """Build, bind and start a server; ``settings.port == 0`` binds a free port."""
    rules = Rules()
    for svc in services:
        if svc.rules is not None:
            rules = rules | svc.rules
    server = grpc.aio.server(
        interceptors=[ServerInterceptor(settings.auth_token, rules)], options=_options(settings)
    )
    for svc in services:
        svc.register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [svc.name for svc in services]
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{settings.host}:{settings.port}"
    creds = _credentials(settings)
    port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    start_metrics_server(settings.metrics_port, settings.host)
    log.info(
        "serving %s on %s:%d (tls=%s, auth=%s)",
        ", ".join(names),
        settings.host,
        port,
        creds is not None,
        settings.auth_token is not None,
    )
    return RunningServer(server, port, settings.host, health_servicer, services)


async def serve_forever(settings: ServerSettings, services: Sequence[Service]) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    running = await start_server(settings, services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: %.1f s grace for in-flight RPCs", settings.grace_seconds)
    await running.stop(settings.grace_seconds)


def run(settings: ServerSettings, services: Sequence[Service]) -> None:
    """Blocking entry point for a service's ``__main__``."""
    asyncio.run(serve_forever(settings, services))


def main(settings_class: type[S], factory: Callable[[S], Service]) -> None:
    """The entry point of every service's ``__main__``: logging, settings from the environment, serve."""
    from octopack.common.logging import setup_logging

    setup_logging()
    settings = settings_class()
    run(settings, [factory(settings)])
