"""The one table of the project's gRPC services.

Every place that needs a service's name, module, port, environment prefix or proto service reads
it here: the ``octopack service`` command, the local stack, each service's settings class, and the
chart tests (which check the chart's values and Services against it).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Package that holds one sub-package per service (``services/`` in the source tree).
SERVICES_PACKAGE = "octopack.services"


@dataclass(frozen=True)
class ServiceInfo:
    """One gRPC service of the project."""

    #: Short name: CLI argument, stack component, chart component, settings prefix.
    name: str
    #: Default gRPC port (the chart's ``<name>.port`` and the local stack's).
    port: int
    #: Full proto service name, as reflection lists it.
    proto_service: str
    #: Package run by ``python -m``; a service of ``services/`` unless given.
    package: str = ""
    #: Environment prefix of its settings class; ``OCTOPACK_<NAME>_`` unless given.
    env_prefix: str = ""

    @property
    def module(self) -> str:
        """The package ``python -m`` runs."""
        return self.package or f"{SERVICES_PACKAGE}.{self.name}"

    @property
    def prefix(self) -> str:
        """The settings' environment prefix (``OCTOPACK_EXECUTOR_``)."""
        return self.env_prefix or f"OCTOPACK_{self.name.upper()}_"


#: The services in ``services/``, in the local stack's start order (the controller needs the rest).
SERVICES: dict[str, ServiceInfo] = {
    s.name: s
    for s in (
        ServiceInfo("datasets", 50053, "octopack.datasets.v1.DatasetService"),
        ServiceInfo("crawler", 50054, "octopack.crawler.v1.CrawlerService"),
        ServiceInfo("filter", 50055, "octopack.filter.v1.FilterService"),
        ServiceInfo("executor", 50052, "octopack.executor.v1.ExecutorService"),
        ServiceInfo("controller", 50051, "octopack.jobs.v1.JobService"),
    )
}

#: The model server: a Ray Serve application (``ray_jobs/serve``), or the same servicer without Ray.
INFERENCE = ServiceInfo(
    "inference", 9000, "octopack.inference.v1.InferenceService",
    package="octopack.ray_jobs.serve", env_prefix="OCTOPACK_SERVE_",
)


def service(name: str) -> ServiceInfo:
    """The catalog entry of ``name``; KeyError names the known services."""
    try:
        return SERVICES[name]
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None
