"""Fixtures of the crawler's unit tests: tmp repositories and an in-memory dataset store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.unit.crawler.gitrepo import Repo


class MemoryWriter:
    def __init__(self, store: MemoryStore, name: str) -> None:
        self.store, self.name, self.batches = store, name, []
        self.committed: dict[str, Any] | None = None

    def write(self, data: Any) -> None:
        self.batches.append(data)

    def commit(self, **kwargs: Any) -> str:
        self.committed = kwargs
        self.store.versions.setdefault(self.name, []).append(self)
        return f"v{len(self.store.versions[self.name])}"

    def abort(self) -> None:
        self.batches = []

    def table(self) -> pa.Table:
        from octopack.services.crawler.samples import SAMPLE_SCHEMA

        return pa.Table.from_batches(self.batches, schema=SAMPLE_SCHEMA)


class MemoryStore:
    """Stands in for the dataset store: keeps committed versions in memory."""

    def __init__(self) -> None:
        self.versions: dict[str, list[MemoryWriter]] = {}

    def create_version(self, name: str, version: Any = None, **kwargs: Any) -> MemoryWriter:
        return MemoryWriter(self, name)

    def latest(self, name: str) -> MemoryWriter:
        return self.versions[name][-1]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")
