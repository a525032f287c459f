"""Finding a running local stack's S3 settings from its state files; the environment wins."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from octopack.stack.discovery import apply_stack_defaults, find_stack, stack_environment
from octopack.stack.settings import StackSettings

KEYS = {"access_key": "octopack", "secret_key": "s3cr3t"}


def _stack(root: Path, s3_pid: int, with_credentials: bool = True) -> StackSettings:
    root.mkdir(parents=True, exist_ok=True)
    components = {
        "s3": {"name": "s3", "pid": s3_pid, "address": "127.0.0.1:18333", "log": "", "kind": "s3", "extra": KEYS},
        "controller": {"name": "controller", "pid": os.getpid(), "address": "127.0.0.1:15051", "log": ""},
    }
    (root / "stack.json").write_text(json.dumps({"components": components}))
    if with_credentials:
        (root / "s3").mkdir(exist_ok=True)
        (root / "s3" / "credentials.json").write_text(json.dumps(KEYS))
    return StackSettings(dir=root, s3_bucket="bucket1")


def test_a_running_stack_fills_the_s3_settings(tmp_path: Path) -> None:
    state = find_stack(_stack(tmp_path / "st", os.getpid()))
    assert state is not None
    assert state.addresses == {"s3": "127.0.0.1:18333", "controller": "127.0.0.1:15051"}
    env: dict[str, str] = {}
    added = stack_environment(state, env)
    assert added == {"OCTOPACK_S3_ENDPOINT": "127.0.0.1:18333", "OCTOPACK_S3_ACCESS_KEY": "octopack",
                     "OCTOPACK_S3_SECRET_KEY": "s3cr3t", "OCTOPACK_S3_BUCKET": "bucket1"}


def test_the_environment_wins(tmp_path: Path) -> None:
    state = find_stack(_stack(tmp_path / "st", os.getpid()))
    # A variable that is set stays; the others are filled.
    assert stack_environment(state, {"OCTOPACK_S3_BUCKET": "mine"}).get("OCTOPACK_S3_BUCKET") is None
    # Another S3 server: the stack's keys must not be sent to it.
    assert stack_environment(state, {"OCTOPACK_S3_ENDPOINT": "minio.example:9000"}) == {}
    # The same server named with a scheme is still the stack's.
    same = stack_environment(state, {"OCTOPACK_S3_ENDPOINT": "http://127.0.0.1:18333"})
    assert same["OCTOPACK_S3_SECRET_KEY"] == "s3cr3t" and "OCTOPACK_S3_ENDPOINT" not in same


def test_a_stopped_stack_or_none_gives_nothing(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = find_stack(_stack(tmp_path / "dead", dead.pid))
    assert state is not None and "s3" not in state.addresses and state.s3 == {}
    assert find_stack(StackSettings(dir=tmp_path / "nothing")) is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "stack.json").write_text("{not json")
    assert find_stack(StackSettings(dir=tmp_path / "bad")) is None


def test_keys_from_stack_json_when_the_credentials_file_is_gone(tmp_path: Path) -> None:
    state = find_stack(_stack(tmp_path / "st", os.getpid(), with_credentials=False))
    assert state is not None and state.s3["OCTOPACK_S3_SECRET_KEY"] == "s3cr3t"


def test_apply_fills_the_given_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stack(tmp_path / "st", os.getpid())
    monkeypatch.setenv("OCTOPACK_STACK_DIR", str(tmp_path / "st"))
    monkeypatch.setenv("OCTOPACK_STACK_S3_BUCKET", "bucket1")
    env = {"OCTOPACK_S3_ACCESS_KEY": "other"}
    added = apply_stack_defaults(env)
    assert env["OCTOPACK_S3_ENDPOINT"] == "127.0.0.1:18333" and env["OCTOPACK_S3_ACCESS_KEY"] == "other"
    assert "OCTOPACK_S3_ACCESS_KEY" not in added
