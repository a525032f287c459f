"""Crawl one repository: walk its history once and keep the single-file in-place modifications."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from octopack.services.crawler import gitio
from octopack.services.crawler.language import language_of
from octopack.services.crawler.licenses import detect_repository
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.prefilter import message_reason
from octopack.services.crawler.samples import SampleWriter

log = logging.getLogger(__name__)

#: Regular files (plain and executable); symlinks and submodules are not source files.
REGULAR = frozenset({"100644", "100755"})
PROGRESS_EVERY = 2000


@dataclass
class RepoResult:
    """What crawling one repository gave: counters and the skip reasons."""

    source: str
    license: str = ""
    head: str = ""
    commits_seen: int = 0
    samples: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    error: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source, "license": self.license, "head": self.head,
            "commits_seen": self.commits_seen, "samples": self.samples, "skipped": dict(self.skipped),
            "error": self.error, "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, doc: dict) -> RepoResult:
        return cls(
            source=doc["source"], license=doc.get("license", ""), head=doc.get("head", ""),
            commits_seen=int(doc.get("commits_seen", 0)), samples=int(doc.get("samples", 0)),
            skipped=Counter(doc.get("skipped", {})), error=doc.get("error", ""),
            seconds=float(doc.get("seconds", 0.0)),
        )


def crawl_repository(
    source: str,
    options: CrawlOptions,
    cache_dir: Path,
    writer: SampleWriter,
    progress: Callable[[RepoResult], None] | None = None,
    license: str = "",
) -> RepoResult:
    """Mirror ``source`` and stream its samples into ``writer``; errors propagate to the caller.

    Merge commits are skipped (counted as ``merge``): their diff against the
    first parent repeats changes already seen on the merged branch. ``license``
    (an SPDX id from the repository list) is taken as given instead of being
    detected from the license files.
    """
    started = time.perf_counter()
    result = RepoResult(source)
    repo = gitio.mirror(source, cache_dir)
    head = gitio.resolve(repo, options.branch)
    if head is None:
        result.seconds = time.perf_counter() - started
        return result  # an empty repository has no history
    result.head = head
    wanted = set(options.languages)
    with gitio.BlobReader(repo) as blobs:
        result.license = license.strip().lower() or detect_repository(repo, head, options.licenses, blobs)
        if not options.allows_license(result.license):
            result.skipped["license_not_allowed"] += 1
            result.seconds = time.perf_counter() - started
            return result
        for commit in gitio.walk(repo, head, options.since, options.until, options.max_commits):
            result.commits_seen += 1
            reason = _commit_reason(commit, wanted)
            if reason is None:
                reason = _emit(commit, blobs, options, result, source, writer)
            if reason is not None:
                result.skipped[reason] += 1
            if progress is not None and result.commits_seen % PROGRESS_EVERY == 0:
                progress(result)
    result.seconds = time.perf_counter() - started
    return result


def _commit_reason(commit: gitio.Commit, wanted: set[str]) -> str | None:
    """Cheap checks on the commit's shape, before any blob is read."""
    if len(commit.parents) > 1:
        return "merge"
    if not commit.parents:
        return "root_commit"
    if len(commit.changes) != 1:
        return "no_change" if not commit.changes else "multi_file"
    change = commit.changes[0]
    if change.status != "M":
        return "not_modification"
    if change.old_mode not in REGULAR or change.new_mode not in REGULAR:
        return "not_regular_file"
    lang = language_of(change.path.decode("utf-8", errors="replace"))
    if lang is None:
        return "unknown_language"
    if wanted and lang not in wanted:
        return "language_not_selected"
    return None


def _emit(
    commit: gitio.Commit,
    blobs: gitio.BlobReader,
    options: CrawlOptions,
    result: RepoResult,
    source: str,
    writer: SampleWriter,
) -> str | None:
    change = commit.changes[0]
    path = change.path.decode("utf-8", errors="replace")
    message = commit.message.rstrip()
    reason = message_reason(message, path)
    if reason is not None:
        return reason
    for sha in (change.old_blob, change.new_blob):
        size = blobs.size(sha)
        if size is None:
            return "missing_blob"
        if size > options.max_file_bytes:
            return "oversized"
    contents = []
    for sha in (change.old_blob, change.new_blob):
        data = blobs.read(sha) or b""
        if b"\0" in data:
            return "binary"
        try:
            contents.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            return "binary"
    writer.add(
        {
            "commit": commit.sha,
            "old_file": path,
            "new_file": path,
            "old_contents": contents[0],
            "new_contents": contents[1],
            "subject": message.split("\n", 1)[0],
            "message": message,
            "lang": language_of(path),
            "license": result.license,
            "repos": [source],
        }
    )
    result.samples += 1
    return None
