"""Ray Train wrapper: the plain loop on N workers with DDP/FSDP, restarts and metrics reporting."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from octopack.ray_jobs.cluster import RaySettings, ensure_ray
from octopack.ray_jobs.finetune.config import FinetuneConfig

log = logging.getLogger(__name__)


def _worker(loop_config: dict[str, Any]) -> None:
    """Runs on each Ray Train worker (the process group is already set up by TorchTrainer)."""
    import ray.train

    from octopack.common.logging import setup_logging
    from octopack.ray_jobs.finetune.loop import train_loop

    setup_logging()
    # Every rank reports every step: Ray Train 2.x treats report() as a synchronisation point.
    train_loop(loop_config["config"], loop_config["s3"], reporter=lambda row: ray.train.report(row))


def run_with_ray(config: FinetuneConfig, s3: Any = None, ray_settings: RaySettings | None = None) -> dict[str, Any]:
    """Train with Ray Train's TorchTrainer; returns the run's result (the registered model)."""
    ensure_ray(ray_settings)
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from octopack.ray_jobs.finetune.runstore import RunStore, open_storage

    run_name = config.resolved_run_name()
    runs, _ = open_storage(config.storage, s3)
    run = RunStore(runs, run_name)
    done = run.read_json("result.json")
    if done is not None:
        return dict(done)
    resources = {"CPU": config.cpus_per_worker}
    if config.use_gpu:
        resources["GPU"] = 1
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"config": config.model_dump(), "s3": s3},
        scaling_config=ScalingConfig(
            num_workers=config.num_workers, use_gpu=config.use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=run_name,
            # Checkpoints live in the run's own storage (object store or storage path) so the
            # plain loop resumes the same way; Ray keeps only its bookkeeping here.
            storage_path=str(Path(tempfile.gettempdir()) / "octopack-ray-train"),
            failure_config=FailureConfig(max_failures=config.max_failures),
        ),
    )
    log.info("training %s on %d Ray worker(s)", run_name, config.num_workers)
    trainer.fit()
    result = run.read_json("result.json")
    if result is None:
        raise RuntimeError(f"run {run_name} finished without a result; see the worker logs")
    return dict(result)
