"""The ``local`` backend: stages run on this machine against the local S3 store and Ray.

crawl and filter use the crawler's and the filter's domain code (processes, or Ray tasks when a
Ray address is set) and write to the dataset store; train submits the Ray Train finetuning job;
serve deploys the Ray Serve application; evaluate scores the served model on HumanEvalPack
through the executors.
"""

from __future__ import annotations

import logging
from typing import Any

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import Backend, StageRunner
from octopack.services.controller.settings import ControllerSettings

log = logging.getLogger(__name__)
K = jobs_pb2.StageKind


def dataset_store() -> Any:
    """The dataset store on the ``OCTOPACK_S3_*`` bucket."""
    from octopack.datasets.store import DatasetStore

    return DatasetStore.from_settings()


class LocalBackend(Backend):
    """Every stage kind, run on this machine."""

    name = "local"

    def __init__(self, settings: ControllerSettings, store_factory: Any = dataset_store) -> None:
        from octopack.services.controller.backends.local_data import CrawlRunner, FilterRunner
        from octopack.services.controller.backends.local_eval import EvaluateRunner
        from octopack.services.controller.backends.local_model import ServeRunner, TrainRunner

        self.settings = settings
        work = settings.work_dir.resolve()
        self.serve = ServeRunner(settings)
        from octopack.services.controller.backends.local_remote import RemoteCrawlRunner, RemoteFilterRunner

        crawl: StageRunner = (
            RemoteCrawlRunner(settings.crawler_address, store_factory, settings.ray_address)
            if settings.crawler_address
            else CrawlRunner(store_factory, work / "crawl", settings.ray_address)
        )
        filt: StageRunner = (
            RemoteFilterRunner(settings.filter_address, store_factory, settings.ray_address)
            if settings.filter_address
            else FilterRunner(store_factory, settings.ray_address)
        )
        runners: dict[int, StageRunner] = {
            K.STAGE_KIND_CRAWL: crawl,
            K.STAGE_KIND_FILTER: filt,
            K.STAGE_KIND_TRAIN: TrainRunner(settings),
            K.STAGE_KIND_SERVE: self.serve,
            K.STAGE_KIND_EVALUATE: EvaluateRunner(settings),
        }
        super().__init__(runners)

    async def cleanup(self, job: jobs_pb2.Job) -> None:
        """Remove the job's Serve application unless the spec keeps it (a cancel always removes it)."""
        if any(st.kind == K.STAGE_KIND_SERVE and st.attempts for st in job.stages):
            keep = job.spec.serve.keep and job.state != jobs_pb2.STATE_FAILED and not job.cancel_requested
            if not keep:
                await self.serve.remove(job.id)
