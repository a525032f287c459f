"""Right after ``octopack up``, the data commands find the stack's S3 server without exported variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _git_repo(root: Path) -> Path:
    """A repository with an MIT license and three in-place edits of one Python file."""
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (repo / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person\n")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git("add", ".")
    git("commit", "-q", "-m", "Add the calculator")
    for i, message in enumerate(["Fix the sign of subtraction", "Add multiplication", "Rename the helper"]):
        (repo / "calc.py").write_text((repo / "calc.py").read_text() + f"\n\ndef op{i}(a, b):\n    return a * {i}\n")
        git("commit", "-q", "-am", message)
    return repo


def _octopack(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octopack.cli.main", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_crawl_right_after_up_without_exports(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPACK_S3_", "OCTOPACK_STACK_"))}
    env["COLUMNS"] = "200"
    work = tmp_path / "work"
    work.mkdir()
    up = _octopack(env, work, "up", "--only", "s3")
    try:
        assert up.returncode == 0, up.stderr
        crawl = _octopack(env, work, "crawl", str(repo), "--dataset", "mine")
        assert crawl.returncode == 0, crawl.stdout + crawl.stderr
        listed = _octopack(env, work, "datasets", "list")
        assert listed.returncode == 0 and "mine" in listed.stdout, listed.stdout + listed.stderr
        ps = _octopack(env, work, "ps")
        keys = json.loads((work / ".octopack" / "s3" / "credentials.json").read_text())
        endpoint = json.loads((work / ".octopack" / "stack.json").read_text())["components"]["s3"]["address"]
        assert f"OCTOPACK_S3_ENDPOINT={endpoint}  (from the stack)" in ps.stdout, ps.stdout
        assert f"OCTOPACK_S3_SECRET_KEY={keys['secret_key']}" in ps.stdout
        # The environment wins: pointed elsewhere, the same command fails against that server.
        other = _octopack({**env, "OCTOPACK_S3_ENDPOINT": "127.0.0.1:9"}, work, "datasets", "list")
        assert other.returncode != 0
    finally:
        down = _octopack(env, work, "down")
    assert down.returncode == 0, down.stderr
