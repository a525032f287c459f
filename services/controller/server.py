"""Assembly of the controller service: store, backend, controller, servicer."""

from __future__ import annotations

import asyncio

import grpc

from octopack.common.server import Service
from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from octopack.services.controller.backends.base import Backend
from octopack.services.controller.engine import Controller
from octopack.services.controller.servicer import JobServicer
from octopack.services.controller.settings import ControllerSettings
from octopack.services.controller.store import JobStore, MemoryStore
from octopack.services.controller.validation import RULES

SERVICE_NAME = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name


def build_store(settings: ControllerSettings) -> JobStore:
    if settings.store == "memory":
        return MemoryStore()
    from octopack.common.objectstore import ObjectStore, S3Settings
    from octopack.services.controller.store_s3 import S3Store

    return S3Store(ObjectStore(S3Settings()), settings.jobs_prefix)


def build_backend(settings: ControllerSettings) -> Backend:
    if settings.backend == "kubernetes":
        from octopack.services.controller.backends.kubernetes import KubernetesBackend

        return KubernetesBackend.from_settings(settings)
    from octopack.services.controller.backends.local import LocalBackend

    return LocalBackend(settings)


def controller_service(
    settings: ControllerSettings, store: JobStore | None = None, backend: Backend | None = None
) -> Service:
    """The JobService; stored jobs are loaded and resumed when the server starts."""
    controller = Controller(
        store if store is not None else build_store(settings),
        backend if backend is not None else build_backend(settings),
        settings.max_running_jobs,
    )
    servicer = JobServicer(controller)
    tasks: list[asyncio.Task[None]] = []

    def register(server: grpc.aio.Server) -> None:
        jobs_pb2_grpc.add_JobServiceServicer_to_server(servicer, server)
        # Load and resume stored jobs on the server's event loop (register() runs inside
        # start_server); RPCs wait until loading has finished.
        tasks.append(asyncio.get_running_loop().create_task(controller.start()))

    return Service(SERVICE_NAME, register, on_stop=controller.stop, rules=RULES)
