"""A tiny model and a small CommitPackFT-like dataset file, built once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def commit_records(n: int) -> list[dict[str, str]]:
    """Small commits in CommitPackFT's schema, plus a few prompt/completion pairs."""
    out: list[dict[str, str]] = []
    for i in range(n):
        old = f"def f{i}(x):\n    return x + {i}\n"
        new = f"def f{i}(x):\n    return x * {i}\n"
        out.append({"subject": f"Change f{i} to multiply", "old_contents": old, "new_contents": new, "lang": "Python"})
        if i % 4 == 0:
            out.append({"prompt": f"Write a function that returns {i}", "completion": f"def g():\n    return {i}\n"})
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-train"))


@pytest.fixture(scope="session")
def commits_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "commits.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in commit_records(24)))
    return path
