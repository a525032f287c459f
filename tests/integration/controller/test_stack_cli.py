"""``octopack up`` / ``run`` / ``jobs`` / ``down`` as a user runs them (S3, Ray, the crawler, the controller)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from controller_procs import make_repo

from octopack.stack import process

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _octopack(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octopack.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_up_run_down(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, 4)
    env = {**os.environ, "OCTOPACK_STACK_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    names = ("controller", "datasets", "crawler", "filter", "executor", "ray", "ray_dashboard")
    env.update({f"OCTOPACK_STACK_{name.upper()}_PORT": "0" for name in names})
    up = _octopack(env, "up", "--only", "s3,ray,crawler,controller", timeout=600)
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads((tmp_path / "state" / "stack.json").read_text())["components"]
        assert set(state) == {"s3", "ray", "crawler", "controller"}
        address = state["controller"]["address"]
        assert f"grpcurl -plaintext {address} list" in up.stdout

        job = tmp_path / "job.yaml"
        job.write_text(f"name: cli\ncrawl:\n  repositories: [{repo}]\n")
        run = _octopack(env, "run", str(job), timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "succeeded" in run.stdout
        listed = _octopack(env, "jobs", "list")
        assert "cli" in listed.stdout and "succeeded" in listed.stdout
        missing = _octopack(env, "jobs", "get", "job-000000000000")
        assert missing.returncode == 2 and "does not exist" in missing.stderr
    finally:
        down = _octopack(env, "down")
    assert down.returncode == 0 and all(name in down.stdout for name in ("controller", "crawler", "ray", "s3"))
    assert not any(process.alive(c["pid"]) for c in state.values())
    assert not (tmp_path / "state" / "stack.json").exists()
