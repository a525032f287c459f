"""Train, serve and evaluate on the local backend: each attempt one Ray job named by its run id.

The job runs ``octopack stage <stage>`` (the same code a Kubernetes stage pod runs) on the local Ray
cluster, submitted with the attempt's run id as its submission id. A restarted controller submits the
same id, finds the job (running or done) and follows it instead of starting it again; the job, not the
controller, holds the work, so a killed controller loses none of it. The stage writes its outputs to
``s3://<bucket>/<jobs prefix><job>/outputs/<stage>.json``, read once the Ray job succeeded (also when an
earlier attempt finished but its success was never recorded).
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
from typing import Any

from google.protobuf import json_format

from octopack.common.errors import FailedPrecondition
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext, attempt_run_ids
from octopack.services.controller.backends.outputs import OutputsReader
from octopack.services.controller.settings import ControllerSettings

_PROGRESS = re.compile(r"^\[\s*(\d+)%\] (.*)$", re.M)


def stage_env(settings: ControllerSettings) -> dict[str, str]:
    """The settings ``octopack stage`` reads in the Ray job: the controller's, joining the job's own Ray."""
    from octopack.common.drivers import driver_env
    from octopack.common.objectstore import S3Settings

    return {
        **driver_env(S3Settings()),
        "OCTOPACK_CONTROLLER_JOBS_PREFIX": settings.jobs_prefix,
        "OCTOPACK_CONTROLLER_WORK_DIR": str(settings.work_dir.resolve()),
        "OCTOPACK_CONTROLLER_RESULTS_DIR": str(settings.results_dir.resolve()),
        "OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES": settings.executor_addresses,
        "OCTOPACK_CONTROLLER_RAY_ADDRESS": settings.ray_address or "auto",
        "OCTOPACK_CONTROLLER_SERVE_GRPC_PORT": str(settings.serve_grpc_port),
        "OCTOPACK_CONTROLLER_SERVE_HTTP_PORT": str(settings.serve_http_port),
    }


class RayJobStage:
    """One stage kind run as Ray jobs (``octopack stage <stage>``) on the cluster at the dashboard address."""

    def __init__(self, settings: ControllerSettings, outputs: OutputsReader, ray: Any = None) -> None:
        self.settings = settings
        self.outputs = outputs
        self._ray = ray

    @property
    def ray(self) -> Any:
        if self._ray is None:
            from octopack.ray_jobs.cluster import RayJobClient

            if not self.settings.ray_dashboard_address:
                raise FailedPrecondition(
                    "train, serve and evaluate run as Ray jobs: set OCTOPACK_CONTROLLER_RAY_DASHBOARD_ADDRESS to the "
                    "Ray dashboard (http://host:8265; 'octopack up' starts Ray and sets it)"
                )
            self._ray = RayJobClient(self.settings.ray_dashboard_address)
        return self._ray

    def entrypoint(self, ctx: StageContext) -> str:
        payload = {"spec": json_format.MessageToDict(ctx.spec), "inputs": ctx.inputs, "attempt": ctx.attempt}
        python = self.settings.ray_python or sys.executable
        return shlex.join([python, "-m", "octopack.cli.main", "stage", ctx.stage, "--job-id", ctx.job_id,
                           "--payload", json.dumps(payload, sort_keys=True)])

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        done = await asyncio.to_thread(self.outputs, ctx.job_id, ctx.stage)
        if done is not None:
            return done  # an earlier attempt finished: its outputs are final
        ray = self.ray
        started = await asyncio.to_thread(ray.submit, ctx.run_id, self.entrypoint(ctx), stage_env(self.settings),
                                          {"job_id": ctx.job_id, "stage": ctx.stage})
        ctx.report(0.01, f"{'submitted' if started else 'adopted'} Ray job {ctx.run_id}")
        while True:
            status = await asyncio.to_thread(ray.status, ctx.run_id)
            if status in ("SUCCEEDED", "FAILED", "STOPPED", None):
                break
            await self._progress(ctx)
            await asyncio.sleep(self.settings.ray_poll_seconds)
        if status == "SUCCEEDED":
            outputs = await asyncio.to_thread(self.outputs, ctx.job_id, ctx.stage)
            if outputs is not None:
                return outputs
            raise RuntimeError(f"Ray job {ctx.run_id} succeeded but wrote no outputs document")
        tail = "\n".join((await asyncio.to_thread(self._logs, ctx.run_id)).splitlines()[-15:])
        raise RuntimeError(f"Ray job {ctx.run_id} ended {status or 'missing'}:\n{tail}")

    def _logs(self, run_id: str) -> str:
        try:
            return str(self.ray.logs(run_id))
        except Exception as exc:  # the outcome matters, not the logs
            return f"(no logs: {exc})"

    async def _progress(self, ctx: StageContext) -> None:
        found = _PROGRESS.findall(await asyncio.to_thread(self._logs, ctx.run_id))
        if found:
            percent, message = found[-1]
            ctx.report(int(percent) / 100, message)

    async def forget(self, job: jobs_pb2.Job, kind: int) -> None:
        """Stop the Ray jobs of attempts whose outputs the job does not keep (a cancelled job's running one)."""
        if not self.settings.ray_dashboard_address:
            return
        for rid, kept in attempt_run_ids(job, kind):
            if not kept:
                await asyncio.to_thread(self.ray.stop, rid)
