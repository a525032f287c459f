"""Helpers of the controller's integration tests: a tiny Git repository, controller processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc

from octopack.common.objectstore import ObjectStore
from octopack.stack import process

MIT = """MIT License

Copyright (c) 2024 Test

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software.

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
"""
VERBS = ["Add", "Fix", "Handle", "Support", "Improve", "Use", "Remove", "Make"]


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)


def make_repo(root: Path, commits: int) -> Path:
    """A repository with a LICENSE and ``commits`` in-place edits of one Python file."""
    repo = root / "tiny"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "LICENSE").write_text(MIT)
    (repo / "calc.py").write_text("def value():\n    return 0\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Create the calculator module")
    for i in range(1, commits + 1):
        body = "".join(f"\n\ndef helper_{j}(x):\n    return x * {j} + {i}\n" for j in range(i % 7 + 1))
        (repo / "calc.py").write_text(f"def value():\n    return {i}\n{body}")
        _git(repo, "commit", "-q", "-am", f"{VERBS[i % len(VERBS)]} the value returned by the helper number {i}")
    return repo


class ServiceProcess:
    """``python -m <module>`` of one service on a free port, in its own session, stoppable with SIGKILL."""

    def __init__(self, module: str, prefix: str, env: dict[str, str], log: Path) -> None:
        self.module = module
        self.port = process.free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**env, f"{prefix}PORT": str(self.port), f"{prefix}HOST": "127.0.0.1"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], env={**os.environ, **self.env},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not process.grpc_healthy(self.address):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.module} did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the process and its session."""
        assert self.proc is not None
        process.stop(self.proc.pid, hard=True, group=True)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            process.stop(self.proc.pid, group=True)
            self.proc.wait(timeout=30)

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)


class ControllerProcess(ServiceProcess):
    """``python -m octopack.services.controller`` on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("octopack.services.controller", "OCTOPACK_CONTROLLER_", env, log)


def data_services(env: dict[str, str], ray_dashboard: str, logs: Path) -> tuple[ServiceProcess, ServiceProcess]:
    """The crawler and the filter service on ``env``'s bucket, running their work on the Ray head."""
    crawler = ServiceProcess("octopack.services.crawler", "OCTOPACK_CRAWLER_",
                             {**env, "OCTOPACK_CRAWLER_RAY_ADDRESS": ray_dashboard,
                              "OCTOPACK_CRAWLER_POLL_SECONDS": "0.3"}, logs / "crawler.log")
    filt = ServiceProcess("octopack.services.filter", "OCTOPACK_FILTER_",
                          {**env, "OCTOPACK_FILTER_RAY_ADDRESS": ray_dashboard, "OCTOPACK_FILTER_POLL_SECONDS": "0.3"},
                          logs / "filter.log")
    return crawler.start(), filt.start()


def service_runs(objects: ObjectStore, service: str, job_id: str) -> dict[str, int]:
    """Run id -> driver launches of ``service`` for ``job_id``, from the service's run records in S3."""
    runs = {}
    for obj in objects.list(f"runs/{service}/{job_id}-"):
        if obj.key.endswith("/run.json"):
            doc = json.loads(objects.get(obj.key))
            runs[doc["run_id"]] = int(doc["launches"])
    return runs
