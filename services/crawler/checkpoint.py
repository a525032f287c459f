"""Per-repository partial outputs with completion markers, so a restarted crawl skips finished work.

Layout under a crawl's folder::

    repos/<key>.parquet        samples of one repository (written as .tmp, renamed when complete)
    repos/<key>.done.json      the repository's counters; its presence means "done"
    repos/<key>.progress.json  live counters while the repository is being walked
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from octopack.services.crawler.gitio import repo_key
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.repository import RepoResult


def crawl_id_for(dataset: str, sources: list[str], options: CrawlOptions) -> str:
    """A deterministic crawl id: the same request resumes the same checkpoints."""
    doc = json.dumps({"dataset": dataset, "sources": sources, "options": options.identity()}, sort_keys=True)
    return f"{dataset}-{hashlib.sha256(doc.encode()).hexdigest()[:12]}"


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


class Checkpoints:
    """The checkpoint folder of one crawl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repos = root / "repos"
        self.repos.mkdir(parents=True, exist_ok=True)

    def partial(self, source: str) -> Path:
        return self.repos / f"{repo_key(source)}.parquet"

    def _marker(self, source: str, kind: str) -> Path:
        return self.repos / f"{repo_key(source)}.{kind}.json"

    def done(self, source: str) -> RepoResult | None:
        """The stored result when ``source`` finished in an earlier run, else None."""
        marker = self._marker(source, "done")
        if marker.exists() and self.partial(source).exists():
            return RepoResult.from_dict(json.loads(marker.read_text()))
        return None

    def mark_done(self, result: RepoResult) -> None:
        _write_json(self._marker(result.source, "done"), result.to_dict())
        self._marker(result.source, "progress").unlink(missing_ok=True)

    def write_progress(self, result: RepoResult) -> None:
        _write_json(self._marker(result.source, "progress"), result.to_dict())

    def progress(self, source: str) -> RepoResult | None:
        try:
            return RepoResult.from_dict(json.loads(self._marker(source, "progress").read_text()))
        except (OSError, ValueError):
            return None

    @property
    def cancel_marker(self) -> Path:
        """Present while the crawl is cancelled: workers (processes, Ray tasks) stop their git commands."""
        return self.root / "CANCELLED"

    def clear(self) -> None:
        """Forget every checkpoint (a fresh crawl)."""
        shutil.rmtree(self.repos, ignore_errors=True)
        self.repos.mkdir(parents=True, exist_ok=True)
