"""Train (Ray Train finetuning job) and serve (Ray Serve application) on the local Ray.

Training is idempotent by job id: the run is named ``<job id>-train``, and the finetuning job
resumes that run from its last checkpoint or, when it finished, returns its result at once.
Serving deploys the application ``<job id>``; deploying it again replaces it in place.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from octopack.common.errors import FailedPrecondition
from octopack.jobs.v1 import jobs_pb2
from octopack.ray_jobs.cluster import SINGLE_MACHINE_ENV
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.backends.subproc import run_module
from octopack.services.controller.settings import ControllerSettings


def ray_env(settings: ControllerSettings) -> dict[str, str]:
    """Where the child processes find Ray: the stack's head (its token and loopback settings come with
    the controller's environment), or a private local instance."""
    if settings.ray_address:
        return {"OCTOPACK_RAY_ADDRESS": settings.ray_address}
    # A private single-machine instance: Ray keeps its 127.0.0.1 node address only when told no node joins.
    return {"OCTOPACK_RAY_ADDRESS": "local", "RAY_AUTH_MODE": "disabled", **SINGLE_MACHINE_ENV}


def check_not_empty(dataset: str) -> None:
    """Fail for good (no retry) when the dataset-store dataset to train on has no samples."""
    if not dataset or dataset.endswith(".jsonl") or Path(dataset).exists():
        return
    from octopack.datasets.names import parse_ref
    from octopack.services.controller.backends.local import dataset_store

    name, version = parse_ref(dataset)
    if dataset_store().get_manifest(name, version).num_rows == 0:
        raise FailedPrecondition(
            f"train: dataset {dataset} has no samples; crawl more repositories (crawl.repositories) "
            "or relax the filter (filter.config_yaml, train.min_samples)"
        )


class TrainRunner:
    """LoRA finetuning through ``python -m octopack.ray_jobs.finetune``."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings

    def config(self, ctx: StageContext) -> dict[str, object]:
        t = ctx.spec.train
        dataset = ctx.inputs.get("dataset", "")
        if not dataset:
            raise FailedPrecondition("train: no dataset (spec.train.dataset or a filter stage)")
        workers = t.num_workers or 1
        return {
            "dataset": dataset,
            "base_model": t.base_model or "default",
            "out": ctx.output_name().replace("-train", "-model"),
            "run_name": ctx.output_name(),
            "max_steps": t.max_steps or 10,
            "micro_batch_size": t.batch_size or 2,
            "seq_len": t.seq_len or 256,
            "lr": t.learning_rate or 5e-4,
            "lora_r": t.lora_r or 8,
            "lora_alpha": 2 * (t.lora_r or 8),
            "num_workers": workers,
            # Two CPUs and two workers at one CPU each starve Ray: halve the share.
            "cpus_per_worker": 1.0 if workers == 1 else 0.5,
            "checkpoint_every": max(1, (t.max_steps or 10) // 2),
        }

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        await asyncio.to_thread(check_not_empty, ctx.inputs.get("dataset", ""))
        work = self.settings.work_dir.resolve() / ctx.job_id
        work.mkdir(parents=True, exist_ok=True)
        config = work / "train.json"
        config.write_text(json.dumps(self.config(ctx), indent=2))
        ctx.report(0.01, "starting the finetuning job")
        watcher = asyncio.create_task(_follow_steps(work / "train.log", ctx))
        try:
            result = await run_module(
                "octopack.ray_jobs.finetune", ["--config", str(config)], ray_env(self.settings), work / "train.log"
            )
        finally:
            watcher.cancel()
        model = str(result.get("model", ""))
        if not model:
            raise RuntimeError(f"the finetuning job returned no model: {result}")
        details = {k: str(v) for k, v in result.items() if k != "model"}
        details["dataset"] = ctx.inputs["dataset"]
        if ctx.inputs.get("fallback"):
            details["dataset_fallback"] = ctx.inputs["fallback"]
        return jobs_pb2.StageOutputs(model=jobs_pb2.ModelRef(name=model.split("@")[0], uri=model), details=details)


_STEP = re.compile(rb"step (\d+)/(\d+) loss ([0-9.]+)")


async def _follow_steps(log: Path, ctx: StageContext) -> None:
    """Report the training loop's "step N/M loss L" log lines as progress."""
    seen = log.stat().st_size if log.exists() else 0
    while True:
        await asyncio.sleep(2.0)
        if not log.exists():
            continue
        with log.open("rb") as f:
            f.seek(seen)
            chunk = f.read()
        seen += len(chunk)
        found = _STEP.findall(chunk)
        if found:
            step, total, loss = found[-1]
            ctx.report(min(0.99, int(step) / max(1, int(total))), f"step {int(step)}/{int(total)} loss {float(loss):.3f}")


class ServeRunner:
    """Deploys the model as the Serve application ``<job id>`` (gRPC on the stack's Serve port)."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        model = ctx.inputs.get("model", "")
        if not model:
            raise FailedPrecondition("serve: no model (spec.serve.model or a train stage)")
        if not self.settings.ray_address:
            # A private Ray instance would die with the deploying process, and the endpoint with it.
            raise FailedPrecondition(
                "serve needs a running Ray cluster: set OCTOPACK_CONTROLLER_RAY_ADDRESS ('octopack up' starts one)"
            )
        s = ctx.spec.serve
        work = self.settings.work_dir.resolve() / ctx.job_id
        args = [
            "deploy", "--app", ctx.job_id, "--model", model, "--replicas", str(s.replicas or 1),
            "--max-new-tokens", str(s.max_new_tokens or 256), "--port", str(self.settings.serve_grpc_port),
            "--http-port", str(self.settings.serve_http_port),
        ]
        ctx.report(0.05, f"deploying {model}")
        result = await run_module(
            "octopack.services.controller.serve_deploy", args, ray_env(self.settings), work / "serve.log"
        )
        return jobs_pb2.StageOutputs(endpoint=str(result["endpoint"]), details={"application": ctx.job_id})

    async def remove(self, job_id: str) -> None:
        if not self.settings.ray_address:
            return
        work = self.settings.work_dir.resolve() / job_id
        await run_module(
            "octopack.services.controller.serve_deploy", ["delete", "--app", job_id], ray_env(self.settings),
            Path(work) / "serve.log",
        )
