"""One crawl from request to dataset version: plan, crawl repositories in parallel, merge, write."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from octopack.common.errors import InvalidArgument
from octopack.services.crawler import runner
from octopack.services.crawler.checkpoint import Checkpoints, crawl_id_for
from octopack.services.crawler.language import known_languages
from octopack.services.crawler.merge import merged_batches
from octopack.services.crawler.options import CrawlOptions, check_dataset_name, check_languages
from octopack.services.crawler.repository import RepoResult
from octopack.services.crawler.samples import SAMPLE_SCHEMA

log = logging.getLogger(__name__)


class VersionWriter(Protocol):
    def write(self, data: Any) -> Any: ...
    def commit(
        self, *, filter_config: Any = None, stats: Any = None, extra: Any = None, profile: str = ""
    ) -> Any: ...
    def abort(self) -> Any: ...


class Store(Protocol):
    """What the crawl needs of the dataset store."""

    def create_version(
        self, name: str, version: Any = None, *, parents: Any = (), job_id: str = "", description: str = "",
        schema: Any = None,
    ) -> VersionWriter: ...


@dataclass
class CrawlRequest:
    """A validated crawl request."""

    sources: list[str]
    dataset: str
    options: CrawlOptions
    ray_address: str = ""
    fresh: bool = False

    def validate(self) -> CrawlRequest:
        if not self.sources:
            raise InvalidArgument("repositories: give at least one Git URL or local path")
        check_dataset_name(self.dataset)
        check_languages(self.options.languages, known_languages())
        self.sources = list(dict.fromkeys(s.strip() for s in self.sources if s.strip()))
        return self


@dataclass
class CrawlProgress:
    """Live counters of a crawl; ``version`` is the dataset version once written."""

    crawl_id: str = ""
    repositories_total: int = 0
    repositories_done: int = 0
    repositories_failed: int = 0
    repositories_resumed: int = 0
    commits_seen: int = 0
    samples_emitted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: dict[str, str] = field(default_factory=dict)
    licenses: dict[str, str] = field(default_factory=dict)
    version: str = ""
    samples_written: int = 0
    live: dict[str, RepoResult] = field(default_factory=dict)

    def add(self, result: RepoResult, resumed: bool = False) -> None:
        self.live.pop(result.source, None)
        if result.error:
            self.repositories_failed += 1
            self.errors[result.source] = result.error
            return
        self.repositories_done += 1
        self.repositories_resumed += int(resumed)
        self.commits_seen += result.commits_seen
        self.samples_emitted += result.samples
        self.skipped.update(result.skipped)
        self.licenses[result.source] = result.license

    def totals(self) -> tuple[int, int, Counter[str]]:
        """Commits seen, samples and skips including repositories still being walked."""
        skipped = Counter(self.skipped)
        commits, samples = self.commits_seen, self.samples_emitted
        for live in self.live.values():
            commits += live.commits_seen
            samples += live.samples
            skipped.update(live.skipped)
        return commits, samples, skipped


class Crawl:
    """Runs one :class:`CrawlRequest`; progress is readable from other threads at any time."""

    def __init__(self, request: CrawlRequest, work_dir: Path, workers: int = 2) -> None:
        self.request = request.validate()
        self.crawl_id = crawl_id_for(request.dataset, request.sources, request.options)
        self.work_dir = work_dir
        self.workers = workers
        self.progress = CrawlProgress(self.crawl_id, repositories_total=len(request.sources))
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()
        self.checkpoints = Checkpoints(work_dir / "crawls" / self.crawl_id)

    def run(self, store: Store) -> CrawlProgress:
        """Crawl every repository (skipping those done in an earlier run) and write one dataset version."""
        started = time.perf_counter()
        request = self.request
        if request.fresh:
            self.checkpoints.clear()
        todo = []
        for source in request.sources:
            done = self.checkpoints.done(source)
            if done is None:
                todo.append(source)
            else:
                with self.lock:
                    self.progress.add(done, resumed=True)
        log.info("crawl %s: %d repositories, %d already done", self.crawl_id, len(request.sources),
                 len(request.sources) - len(todo))
        args = (todo, request.options.model_dump_json(), self.work_dir / "cache", self.checkpoints.root)
        if request.ray_address:
            runner.run_ray(*args, request.ray_address, self._done, self._tick, self.cancel_event.is_set)
        else:
            runner.run_local(*args, self.workers, self._done, self._tick, self.cancel_event.is_set)
        if self.cancel_event.is_set():
            return self.progress
        self._write(store, time.perf_counter() - started)
        return self.progress

    def _done(self, doc: dict) -> None:
        with self.lock:
            self.progress.add(RepoResult.from_dict(doc))

    def _tick(self) -> None:
        for source in self.request.sources:
            if source in self.progress.licenses or source in self.progress.errors:
                continue
            live = self.checkpoints.progress(source)
            if live is not None:
                with self.lock:
                    self.progress.live[source] = live

    def _write(self, store: Store, seconds: float) -> None:
        partials = [(s, self.checkpoints.partial(s)) for s in self.request.sources if s in self.progress.licenses]
        counts: dict[str, int] = {}
        writer = store.create_version(
            self.request.dataset, job_id=self.crawl_id,
            description=f"CommitPack samples crawled from {len(partials)} repositories", schema=SAMPLE_SCHEMA,
        )
        written = 0
        try:
            for batch in merged_batches(partials, counts):
                if batch.num_rows:
                    writer.write(batch)
                    written += batch.num_rows
        except BaseException:
            writer.abort()
            raise
        with self.lock:
            self.progress.skipped.update(counts)
            self.progress.samples_written = written
        manifest = writer.commit(stats=self.stats(seconds), extra={"crawl": self.extra()},
                                 profile=self.request.options.profile)
        with self.lock:
            self.progress.version = str(getattr(manifest, "version", manifest))

    def stats(self, seconds: float) -> dict[str, Any]:
        p = self.progress
        return {
            "repositories": p.repositories_total, "repositories_done": p.repositories_done,
            "repositories_failed": p.repositories_failed, "commits_seen": p.commits_seen,
            "samples_emitted": p.samples_emitted, "samples_written": p.samples_written,
            "skipped": dict(sorted(p.skipped.items())), "seconds": round(seconds, 3),
        }

    def extra(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id, "repositories": self.request.sources,
            "options": self.request.options.model_dump(mode="json"), "licenses": self.progress.licenses,
            "errors": self.progress.errors,
        }
