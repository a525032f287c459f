"""The unit of parallel work: crawl one repository into the staging area. Runs as a Ray task or in a local pool.

Each task clones into a scratch folder of its own (removed afterwards), writes the repository's samples as
one Parquet object ``_repos/<key>.parquet`` of :data:`INTERMEDIATE_SCHEMA` into the version's staging area
in S3, then its completion marker ``_repos/<key>.json`` (the counters) next to it. A task that finds its
marker returns it without crawling again; a task that dies before writing the marker is retried and
rewrites the same keys.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from octopack.common.errors import Cancelled, OctopackError, status_code
from octopack.datasets.staging import StagingArea
from octopack.services.crawler import policy
from octopack.services.crawler.gitio import GitError, repo_key
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.repository import RepoResult, crawl_repository
from octopack.services.crawler.samples import SampleWriter
from octopack.services.crawler.sources import Source

log = logging.getLogger(__name__)
REPOS = "_repos/"
#: Present in the staging area while the crawl is cancelled: every task's git commands are stopped.
CANCELLED = "_CANCELLED"
#: How often a task looks for :data:`CANCELLED` (one small S3 request; git is polled every 0.2 s).
CANCEL_POLL_S = 1.0


def mark_cancelled(area: StagingArea) -> None:
    """Leave the cancellation marker the run's tasks watch (idempotent)."""
    if not area.store.objects.exists(area.key(CANCELLED)):
        area.put_bytes(CANCELLED, b"")


def clear_cancelled(area: StagingArea) -> None:
    """Forget an earlier driver's cancellation (a run started again)."""
    area.store.objects.delete(area.key(CANCELLED))


def cancel_check(area: StagingArea, every: float = CANCEL_POLL_S) -> Callable[[], bool]:
    """True once the run is cancelled; asks the store at most every ``every`` seconds, then stays true."""
    state = {"at": 0.0, "cancelled": False}

    def cancelled() -> bool:
        now = time.monotonic()
        if not state["cancelled"] and now - state["at"] >= every:
            state["at"] = now
            with contextlib.suppress(OctopackError):  # the store did not answer: look again next time
                state["cancelled"] = area.store.objects.exists(area.key(CANCELLED))
        return bool(state["cancelled"])

    return cancelled


def task_key(source: Source) -> str:
    """The repository's key in the staging area: its place in the list, then a readable stable name."""
    return f"{source.index:09d}-{repo_key(source.url)}"


def crawl_task(source: Source, options_json: str, area: StagingArea, cache_dir: str = "") -> dict[str, Any]:
    """Crawl ``source`` into ``area``; return the :class:`RepoResult` as a dict (plus ``rows``, ``bytes``).

    A failure never raises: it comes back as ``error`` so one broken repository does not stop the
    others, and leaves no completion marker (a resumed crawl tries it again). ``cache_dir`` keeps bare
    mirrors between crawls on one machine; without it each task clones into a fresh scratch folder.
    """
    key = task_key(source)
    marker = area.get_json(f"{REPOS}{key}.json")
    if isinstance(marker, dict) and marker.get("source") == source.url:
        return {**marker, "resumed": True}
    options = CrawlOptions.model_validate_json(options_json)
    scratch = Path(tempfile.mkdtemp(prefix="octopack-crawl-"))
    try:
        return _crawl(source, key, options, area, Path(cache_dir) if cache_dir else scratch / "mirror", scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _crawl(
    source: Source, key: str, options: CrawlOptions, area: StagingArea, mirrors: Path, scratch: Path
) -> dict[str, Any]:
    writer = SampleWriter(scratch / "samples.parquet", order=source.index)
    cancelled = cancel_check(area)

    def progress(result: RepoResult) -> None:
        if cancelled():  # between commits of a long walk
            raise Cancelled(f"crawl of {source.url} cancelled")

    try:
        # Every git command of this repository stops (its process group killed) once the crawl is cancelled.
        with policy.cancelled_by(cancelled):
            result = crawl_repository(source.url, options, mirrors, writer, progress, license=source.license)
        writer.close()
    except (OctopackError, GitError, OSError, UnicodeError, ValueError) as exc:
        writer.close()
        message = exc.message if isinstance(exc, OctopackError) else str(exc)
        log.warning("repository %s failed: %s", source.url, message)
        return RepoResult(source.url, error=message, error_code=status_code(exc) or "").to_dict()
    except Exception as exc:  # an unexpected bug: keep the crawl going, keep the traceback
        writer.close()
        log.error("repository %s failed unexpectedly:\n%s", source.url, traceback.format_exc())
        return RepoResult(source.url, error=f"unexpected error: {exc!r}").to_dict()
    doc: dict[str, Any] = {**result.to_dict(), "index": source.index, "rows": writer.count, "bytes": 0}
    if writer.count:
        path = writer.path
        doc["bytes"] = path.stat().st_size
        area.store.objects.put_file(area.key(f"{REPOS}{key}.parquet"), path)
    area.put_json(f"{REPOS}{key}.json", doc)
    return doc
