"""The ``local`` backend: stages run on this machine against the local S3 store and Ray.

crawl and filter go to the CrawlerService and FilterService, which run them on Ray; train, serve and
evaluate are Ray jobs running ``octopack stage`` (finetuning with Ray Train, the Serve application
``<job id>``, HumanEvalPack through the executors). Every attempt's work is named by its run id, so a
restarted controller adopts it.
"""

from __future__ import annotations

import logging
from typing import Any

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import Backend, StageRunner
from octopack.services.controller.backends.data_stages import CrawlStage, FilterStage
from octopack.services.controller.backends.ray_stages import RayJobStage
from octopack.services.controller.settings import ControllerSettings

log = logging.getLogger(__name__)
K = jobs_pb2.StageKind
RAY_KINDS = (K.STAGE_KIND_TRAIN, K.STAGE_KIND_SERVE, K.STAGE_KIND_EVALUATE)


def dataset_store() -> Any:
    """The dataset store on the ``OCTOPACK_S3_*`` bucket."""
    from octopack.datasets.store import DatasetStore

    return DatasetStore.from_settings()


def in_process_runners(settings: ControllerSettings) -> dict[int, StageRunner]:
    """The runners ``octopack stage`` uses: the work of train, serve and evaluate in this process."""
    from octopack.services.controller.backends.local_eval import EvaluateRunner
    from octopack.services.controller.backends.local_model import ServeRunner, TrainRunner

    return {
        K.STAGE_KIND_TRAIN: TrainRunner(settings),
        K.STAGE_KIND_SERVE: ServeRunner(settings),
        K.STAGE_KIND_EVALUATE: EvaluateRunner(settings),
    }


class LocalBackend(Backend):
    """Every stage kind, run on this machine's services and Ray."""

    name = "local"

    def __init__(self, settings: ControllerSettings, store_factory: Any = dataset_store, ray: Any = None) -> None:
        from octopack.common.objectstore import ObjectStore, S3Settings
        from octopack.services.controller.backends.local_model import ServeRunner
        from octopack.services.controller.backends.outputs import s3_outputs_reader

        self.settings = settings
        self.serve = ServeRunner(settings)
        self.crawl = CrawlStage(settings.crawler_address, store_factory, settings.auth_token)
        self.filter = FilterStage(settings.filter_address, settings.auth_token)
        self.ray_stage = RayJobStage(settings, s3_outputs_reader(ObjectStore(S3Settings()), settings.jobs_prefix), ray)
        runners: dict[int, StageRunner] = {K.STAGE_KIND_CRAWL: self.crawl, K.STAGE_KIND_FILTER: self.filter}
        runners.update({kind: self.ray_stage for kind in RAY_KINDS})
        super().__init__(runners)

    async def cleanup(self, job: jobs_pb2.Job) -> None:
        """Cancel the work of attempts the job does not keep; remove its Serve application unless kept."""
        await self.crawl.forget(job)
        await self.filter.forget(job)
        for kind in RAY_KINDS:
            await self.ray_stage.forget(job, kind)
        if any(st.kind == K.STAGE_KIND_SERVE and st.attempts for st in job.stages):
            keep = job.spec.serve.keep and job.state != jobs_pb2.STATE_FAILED and not job.cancel_requested
            if not keep:
                await self.serve.remove(job.id)
