"""Ray Train end to end: a dataset version in S3, 2 workers, checkpoints in S3, kill the driver, resume.

The driver runs as ``python -m octopack.ray_jobs.finetune`` (what a RayJob runs), so
killing it kills the local Ray instance with its workers, like a lost head pod.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octopack.common.objectstore import ObjectStore, S3Settings

pytestmark = [pytest.mark.integration, pytest.mark.ray]

RUN = "tiny-ray"


def _env(s3: S3Settings, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OCTOPACK_S3_ENDPOINT=s3.endpoint, OCTOPACK_S3_ACCESS_KEY=s3.access_key,
        OCTOPACK_S3_SECRET_KEY=s3.secret_key, OCTOPACK_S3_BUCKET=s3.bucket,
        OCTOPACK_RAY_NUM_CPUS="2", OCTOPACK_MODELS_CACHE_DIR=str(tmp / "cache"),
        RAY_AUTH_MODE="disabled", OMP_NUM_THREADS="1",
    )
    return env


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the driver and every process it started (by PID: only our own)."""
    pids = [*_descendants(proc.pid), proc.pid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)


def commit_records(n: int) -> list[dict[str, str]]:
    return [
        {"subject": f"Change f{i} to multiply", "old_contents": f"def f{i}(x):\n    return x + {i}\n",
         "new_contents": f"def f{i}(x):\n    return x * {i}\n", "lang": "Python"}
        for i in range(n)
    ]


def _checkpoints(store: ObjectStore) -> list[str]:
    return [k for k in store.list_keys(f"runs/{RUN}/checkpoints/") if k.endswith("/COMPLETE")]


def test_train_kill_and_resume(s3_settings: S3Settings, tmp_path: Path) -> None:
    from octopack.datasets.store import DatasetStore
    from octopack.models.tiny import build_tiny_model

    store = DatasetStore.from_settings(s3_settings)
    with store.create_version("commitpackft-mini") as writer:
        writer.write(commit_records(24))
        writer.commit()
    model = build_tiny_model(tmp_path / "tiny")
    config = {
        "dataset": "commitpackft-mini@v1", "base_model": str(model), "out": "tiny-octo", "run_name": RUN,
        "seq_len": 64, "micro_batch_size": 2, "max_steps": 12, "checkpoint_every": 3, "keep_checkpoints": 2,
        "lr": 3e-3, "warmup_steps": 2, "num_workers": 2, "cpus_per_worker": 0.5, "max_failures": 0,
    }
    (tmp_path / "run.yaml").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "octopack.ray_jobs.finetune", "--config", str(tmp_path / "run.yaml")]
    env = _env(s3_settings, tmp_path)
    objects = ObjectStore(s3_settings)

    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while len(_checkpoints(objects)) < 1 or "step-000003" not in "".join(_checkpoints(objects)):
            assert first.poll() is None, first.stdout.read() if first.stdout else ""
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
    finally:
        _kill_tree(first)
    assert not objects.exists(f"runs/{RUN}/result.json")
    saved = max(int(k.split("/step-")[1][:6]) for k in _checkpoints(objects))
    assert 3 <= saved < 12

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    result = json.loads(second.stdout.strip().splitlines()[-1])
    assert result["model"] == "tiny-octo@v1"
    assert result["resumed_from"] >= saved > 0  # continued, not from step 0
    metrics = [json.loads(line) for line in objects.get(f"runs/{RUN}/metrics.jsonl").decode().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 13))
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert objects.exists("models/tiny-octo/v1/manifest.json")
    assert objects.exists("models/tiny-octo/v1/model.safetensors")
