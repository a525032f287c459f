"""Assembles the executor service for the common gRPC bootstrap."""

from __future__ import annotations

import asyncio

import grpc

from octopack.common.server import Service
from octopack.executor.v1 import executor_pb2, executor_pb2_grpc
from octopack.services.executor.executor import Executor
from octopack.services.executor.servicer import ExecutorServicer
from octopack.services.executor.settings import ExecutorSettings
from octopack.services.executor.validation import rules

SERVICE_NAME = executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"].full_name


def executor_service(settings: ExecutorSettings | None = None) -> Service:
    """The ExecutorService, ready to mount; its work root is removed when the server stops."""
    settings = settings or ExecutorSettings()
    executor = Executor(settings)

    def register(server: grpc.aio.Server) -> None:
        executor_pb2_grpc.add_ExecutorServiceServicer_to_server(ExecutorServicer(executor), server)

    async def on_stop() -> None:
        await asyncio.to_thread(executor.close)

    return Service(name=SERVICE_NAME, register=register, on_stop=on_stop, rules=rules(settings))
