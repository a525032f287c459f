"""Helpers of the controller's integration tests: a tiny Git repository, controller processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc

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


class ControllerProcess:
    """``python -m octopack.services.controller`` on a free port, stoppable with SIGKILL."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = process.free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**env, "OCTOPACK_CONTROLLER_PORT": str(self.port), "OCTOPACK_CONTROLLER_HOST": "127.0.0.1"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ControllerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "octopack.services.controller"], env={**os.environ, **self.env},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not process.grpc_healthy(self.address):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("controller did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the controller and its session (its crawl worker processes too)."""
        assert self.proc is not None
        process.stop(self.proc.pid, hard=True, group=True)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            process.stop(self.proc.pid, group=True)
            self.proc.wait(timeout=30)

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)
