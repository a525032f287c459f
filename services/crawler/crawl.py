"""One crawl from request to dataset version: list, crawl every repository, de-duplicate forks, commit.

The same code runs in the crawler's Ray job (:mod:`.driver`) and in process (``octopack crawl``);
only the :class:`~.runner.Runner` differs. The driver holds counters, never rows: samples go from the
workers to the version's staging area in S3 (:mod:`octopack.datasets.staging`), and the manifest is
committed from the shard list the de-duplication returns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from octopack.common.errors import InvalidArgument
from octopack.datasets.staging import StagingArea
from octopack.services.crawler import dedupe
from octopack.services.crawler.language import known_languages
from octopack.services.crawler.options import CrawlOptions, check_dataset_name, check_languages
from octopack.services.crawler.repository import RepoResult
from octopack.services.crawler.runner import Runner
from octopack.services.crawler.samples import SAMPLE_SCHEMA
from octopack.services.crawler.sources import SourceList
from octopack.services.crawler.task import REPOS, cancel_check, clear_cancelled, mark_cancelled

log = logging.getLogger(__name__)
#: Per-repository detail kept in progress and in the manifest, at most (the markers keep all of it).
ERRORS_KEPT = 1000
LICENSES_KEPT = 10_000
#: Intermediate Parquet per de-duplication partition (compressed; a partition is held in memory whole).
PARTITION_BYTES = 64 << 20


@dataclass
class CrawlRequest:
    """A validated crawl request: the repositories (a list, a file in S3 or a dataset), the output, the options."""

    sources: list[str]
    dataset: str
    options: CrawlOptions = field(default_factory=CrawlOptions)
    repositories_file: str = ""
    repositories_dataset: str = ""
    fresh: bool = False

    def validate(self) -> CrawlRequest:
        self.sources = list(dict.fromkeys(s.strip() for s in self.sources if s.strip()))
        given = [bool(self.sources), bool(self.repositories_file.strip()), bool(self.repositories_dataset.strip())]
        if sum(given) == 0:
            raise InvalidArgument(
                "repositories: give at least one Git URL or local path, a repositories_file or a repositories_dataset"
            )
        if sum(given) > 1:
            raise InvalidArgument("repositories: give only one of repositories, repositories_file, repositories_dataset")
        check_dataset_name(self.dataset)
        check_languages(self.options.languages, known_languages())
        # Listed repositories are checked here; every repository is checked again where git runs, with the
        # addresses pinned (a list read from a file or a dataset is checked there only).
        self.options.network.check_all(self.sources)
        return self

    def source_list(self) -> SourceList:
        return SourceList(tuple(self.sources), self.repositories_file.strip(), self.repositories_dataset.strip())

    def to_doc(self) -> dict[str, Any]:
        return {
            "sources": self.sources, "dataset": self.dataset, "options": self.options.model_dump(mode="json"),
            "repositories_file": self.repositories_file, "repositories_dataset": self.repositories_dataset,
            "fresh": self.fresh,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CrawlRequest:
        return cls(
            list(doc["sources"]), doc["dataset"], CrawlOptions.model_validate(doc.get("options", {})),
            doc.get("repositories_file", ""), doc.get("repositories_dataset", ""), bool(doc.get("fresh", False)),
        )

    def fingerprint(self) -> str:
        """What makes two requests the same crawl (``fresh`` and the server's network policy aside)."""
        doc = {k: v for k, v in self.to_doc().items() if k != "fresh"}
        doc["options"] = self.options.identity()
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def default_run_id(self) -> str:
        """The run id of a request that names none: the same request resumes the same run, unless ``fresh``."""
        suffix = f"-{uuid.uuid4().hex[:6]}" if self.fresh else ""
        return f"{self.dataset}-{self.fingerprint()[:12]}{suffix}"


@dataclass
class CrawlProgress:
    """Counters of a crawl (no rows); ``version`` is the dataset version once committed."""

    repositories_total: int = 0
    repositories_done: int = 0
    repositories_failed: int = 0
    repositories_resumed: int = 0
    commits_seen: int = 0
    samples_emitted: int = 0
    samples_written: int = 0
    intermediate_bytes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: dict[str, str] = field(default_factory=dict)
    #: Status code name of each kept error (see :attr:`RepoResult.error_code`), for the same repositories.
    error_codes: dict[str, str] = field(default_factory=dict)
    errors_dropped: int = 0
    #: Status code name -> repositories failed with it, counted for every failure (kept or dropped).
    failures_by_code: Counter[str] = field(default_factory=Counter)
    licenses: dict[str, str] = field(default_factory=dict)
    license_counts: Counter[str] = field(default_factory=Counter)
    phase: str = "listing"
    seconds: float = 0.0
    version: str = ""

    def add(self, doc: dict[str, Any]) -> None:
        """Count one repository's result (a :class:`RepoResult` dict from a task)."""
        result = RepoResult.from_dict(doc)
        if result.error:
            self.repositories_failed += 1
            self.failures_by_code[result.error_code or "UNKNOWN"] += 1
            if len(self.errors) < ERRORS_KEPT:
                self.errors[result.source] = result.error
                self.error_codes[result.source] = result.error_code
            else:
                self.errors_dropped += 1
            return
        self.repositories_done += 1
        self.repositories_resumed += int(bool(doc.get("resumed")))
        self.commits_seen += result.commits_seen
        self.samples_emitted += result.samples
        self.intermediate_bytes += int(doc.get("bytes", 0))
        self.skipped.update(result.skipped)
        self.license_counts[result.license or "unknown"] += 1
        if len(self.licenses) < LICENSES_KEPT:
            self.licenses[result.source] = result.license

    @property
    def commits_per_second(self) -> float:
        return self.commits_seen / self.seconds if self.seconds > 0 else 0.0

    def stats(self) -> dict[str, Any]:
        """The manifest's ``lineage.stats``."""
        return {
            "repositories_total": self.repositories_total, "repositories_done": self.repositories_done,
            "repositories_failed": self.repositories_failed, "repositories_resumed": self.repositories_resumed,
            "commits_seen": self.commits_seen, "samples_emitted": self.samples_emitted,
            "samples_written": self.samples_written, "skipped": dict(sorted(self.skipped.items())),
            "license_counts": dict(self.license_counts.most_common()), "seconds": round(self.seconds, 3),
            "commits_per_second": round(self.commits_per_second, 1),
        }

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["skipped"], doc["license_counts"] = dict(self.skipped), dict(self.license_counts)
        doc["failures_by_code"] = dict(self.failures_by_code)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CrawlProgress:
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        progress = cls(**known)
        progress.skipped, progress.license_counts = Counter(progress.skipped), Counter(progress.license_counts)
        progress.failures_by_code = Counter(progress.failures_by_code)
        return progress


Report = Callable[[CrawlProgress], None]


class Crawl:
    """Runs one :class:`CrawlRequest` into its staging area; ``progress`` is readable from other threads."""

    def __init__(
        self, request: CrawlRequest, area: StagingArea, runner: Runner, report: Report | None = None,
        partition_bytes: int = PARTITION_BYTES, report_every: float = 1.0,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        self.request = request.validate()
        #: The service's own word that the run is cancelled (its run record), read once the marker of an
        #: earlier driver is cleared: a cancel that left its marker just before that is not lost.
        self.stop_requested = stop_requested
        self.area = area
        self.runner = runner
        self.report = report or (lambda progress: None)
        self.partition_bytes = partition_bytes
        self.report_every = report_every
        self.progress = CrawlProgress()
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()
        self._last_report = 0.0
        self._marked = cancel_check(area)
        self._marker_left = False

    @property
    def run_id(self) -> str:
        return self.area.run_id

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_report >= self.report_every:
            self._last_report = now
            with self.lock:
                snapshot = CrawlProgress.from_doc(self.progress.to_doc())
            self.report(snapshot)

    def run(self) -> CrawlProgress:
        """Crawl every repository not done by an earlier run, de-duplicate, commit; return the counters."""
        started = time.perf_counter()
        area = self.area
        done = area.committed()
        if done is not None:  # an earlier driver of this run committed: read it back
            self.progress = CrawlProgress.from_doc({**(done.lineage.stats or {}), "phase": "done"})
            self.progress.version = done.version
            area.delete_under(REPOS, ".parquet")
            self._publish(force=True)
            return self.progress
        sources = self.request.source_list()
        self.progress.repositories_total = sources.count(area.store)
        self.progress.phase = "crawling"
        self._publish(force=True)

        def on_done(doc: dict[str, Any]) -> None:
            with self.lock:
                self.progress.add(doc)
                self.progress.seconds = time.perf_counter() - started
            self._publish()

        clear_cancelled(area)  # an earlier driver's cancellation
        if self.stop_requested():
            self.cancel_event.set()  # the runner starts nothing, and the marker is left again
        self.runner.crawl(sources.iterate(area.store), self.request.options.model_dump_json(), area, on_done,
                          self._cancelled)
        if self.cancel_event.is_set():
            return self.progress
        with self.lock:
            self.progress.phase = "deduplicating"
        self._publish(force=True)
        records = []
        if self.progress.intermediate_bytes:
            parts = dedupe.partitions_for(self.progress.intermediate_bytes, self.partition_bytes)
            records = self.runner.dedupe(area, parts)
        shards, dropped = dedupe.collect(records)
        with self.lock:
            p = self.progress
            p.skipped[dedupe.DUPLICATES] += dropped
            p.samples_written = sum(s.rows for s in shards)
            p.phase, p.seconds = "committing", time.perf_counter() - started
        manifest = area.commit(shards, SAMPLE_SCHEMA, stats=self.progress.stats(), extra={"crawl": self.extra()},
                               profile=self.request.options.profile)
        area.delete_under(REPOS, ".parquet")  # the intermediates; the markers stay as the per-repository record
        with self.lock:
            self.progress.version, self.progress.phase = manifest.version, "done"
            self.progress.seconds = time.perf_counter() - started
        self._publish(force=True)
        log.info("crawl %s: %d repositories, %d samples -> %s", self.run_id, self.progress.repositories_done,
                 self.progress.samples_written, manifest.ref)
        return self.progress

    def _cancelled(self) -> bool:
        """Polled by the runner: a crawl cancelled here leaves the marker its tasks' git commands watch; one
        cancelled by the service (which leaves the marker before it stops this driver) is seen in the marker."""
        if not self.cancel_event.is_set():
            if not self._marked():
                return False
            self.cancel_event.set()
        if not self._marker_left:
            mark_cancelled(self.area)
            self._marker_left = True
        return True

    def extra(self) -> dict[str, Any]:
        p = self.progress
        return {
            "run_id": self.run_id, **self.request.source_list().describe(),
            "options": self.request.options.identity(), "licenses": p.licenses, "errors": p.errors,
            "error_codes": p.error_codes,
            "errors_dropped": p.errors_dropped,
        }
