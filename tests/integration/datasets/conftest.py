"""Fixtures of the dataset store's integration tests (the S3 server is tests/conftest.py's ``s3``)."""

from __future__ import annotations

import pytest

from octopack.common.objectstore import ObjectStore, S3Settings
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.store import DatasetStore


def commitpack_rows(n: int, start: int = 0) -> list[dict]:
    """CommitPack-shaped records (the sample schema of docs/octopack-reference)."""
    return [
        {
            "commit": f"{i:040x}",
            "old_file": f"src/mod_{i % 97}.py",
            "new_file": f"src/mod_{i % 97}.py",
            "old_contents": f"def f_{i}(x):\n    return x + {i}\n" * 3,
            "new_contents": f"def f_{i}(x):\n    return x - {i}\n" * 3,
            "subject": f"Fix sign in f_{i}",
            "message": f"Fix sign in f_{i}\n\nThe function added instead of subtracting.",
            "lang": "Python",
            "license": "mit",
            "repos": f"org/repo-{i % 13}",
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def objects(s3_settings: S3Settings) -> ObjectStore:
    return ObjectStore(s3_settings)


@pytest.fixture
def store(objects: ObjectStore) -> DatasetStore:
    # Small shards, so a few hundred rows already make several of them.
    return DatasetStore(objects, policy=ShardPolicy(max_rows=200, convert_rows=64))
