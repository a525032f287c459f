"""One stage run outside the controller (``octopack stage``): what Kubernetes stage pods and the local
backend's Ray jobs execute.

Train, serve and evaluate run with their in-process runners; their outputs go to
``s3://<bucket>/<jobs prefix><job id>/outputs/<stage>.json``, where the backend reads them once the
pod's Job, the RayJob or the Ray job succeeded. Crawl and filter run in their services, not here.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from google.protobuf import json_format

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.backends.outputs import outputs_key
from octopack.services.controller.settings import ControllerSettings

KINDS = {
    "crawl": jobs_pb2.STAGE_KIND_CRAWL,
    "filter": jobs_pb2.STAGE_KIND_FILTER,
    "train": jobs_pb2.STAGE_KIND_TRAIN,
    "serve": jobs_pb2.STAGE_KIND_SERVE,
    "evaluate": jobs_pb2.STAGE_KIND_EVALUATE,
}


async def _until_terminated(work: Coroutine[Any, Any, jobs_pb2.StageOutputs]) -> jobs_pb2.StageOutputs:
    """Run ``work``; SIGTERM (a stopped Ray job, a deleted pod) cancels it, so its child processes are killed."""
    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


def run_stage_here(stage: str, job_id: str, payload: dict[str, Any]) -> jobs_pb2.StageOutputs:
    """Run ``stage`` of ``job_id`` in this process and store its outputs document."""
    from octopack.common.errors import FailedPrecondition
    from octopack.common.objectstore import ObjectStore, S3Settings
    from octopack.services.controller.backends.local import in_process_runners

    settings = ControllerSettings()
    runner = in_process_runners(settings).get(KINDS[stage])
    if runner is None:
        raise FailedPrecondition(f"{stage} stages run in the {stage} service (CrawlerService, FilterService), not here")
    spec = json_format.ParseDict(payload.get("spec", {}), jobs_pb2.JobSpec())
    ctx = StageContext(
        job_id=job_id,
        kind=KINDS[stage],
        spec=spec,
        attempt=int(payload.get("attempt", 1)),
        inputs=dict(payload.get("inputs", {})),
        report=lambda progress, message: print(f"[{progress:4.0%}] {message}", flush=True),
    )
    outputs = asyncio.run(_until_terminated(runner.run(ctx)))
    store = ObjectStore(S3Settings())
    store.ensure_bucket()
    store.put(
        outputs_key(settings.jobs_prefix, job_id, stage),
        json_format.MessageToJson(outputs).encode(),
        content_type="application/json",
    )
    return outputs
