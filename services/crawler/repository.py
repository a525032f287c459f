"""Crawl one repository: walk its history once and keep the single-file in-place modifications."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from octopack.services.crawler import gitio
from octopack.services.crawler.language import assign_language
from octopack.services.crawler.licenses import detect_repository
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.prefilter import MessageChecks, repository_language_ok, sample_change
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
    #: Status code name of the error (NOT_FOUND, UNAVAILABLE, ...): tells a retry whether it can help.
    error_code: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source, "license": self.license, "head": self.head,
            "commits_seen": self.commits_seen, "samples": self.samples, "skipped": dict(self.skipped),
            "error": self.error, "error_code": self.error_code, "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, doc: dict) -> RepoResult:
        return cls(
            source=doc["source"], license=doc.get("license", ""), head=doc.get("head", ""),
            commits_seen=int(doc.get("commits_seen", 0)), samples=int(doc.get("samples", 0)),
            skipped=Counter(doc.get("skipped", {})), error=doc.get("error", ""),
            error_code=doc.get("error_code", ""), seconds=float(doc.get("seconds", 0.0)),
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
    repo = gitio.mirror(source, cache_dir, options.network)
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
        by_name = options.corrected("file_name_languages")
        if not options.corrected("any_repository_language"):
            paths = gitio.git(["ls-tree", "-r", "-z", "--name-only", head], cwd=repo).split(b"\0")
            languages = {assign_language(p.decode("utf-8", errors="replace"), by_name) for p in paths if p}
            if not repository_language_ok({lang for lang in languages if lang}):
                result.skipped["repository_language"] += 1
                result.seconds = time.perf_counter() - started
                return result
        for commit in gitio.walk(repo, head, options.since, options.until, options.max_commits):
            result.commits_seen += 1
            picked = _commit_reason(commit, wanted, options)
            reason = picked if isinstance(picked, str) else _emit(commit, picked, blobs, options, result, source,
                                                                  writer)
            if reason is not None:
                result.skipped[reason] += 1
            if progress is not None and result.commits_seen % PROGRESS_EVERY == 0:
                progress(result)
    result.seconds = time.perf_counter() - started
    return result


def _commit_reason(commit: gitio.Commit, wanted: set[str], options: CrawlOptions) -> gitio.Change | str:
    """Cheap checks on the commit's shape, before any blob is read: its sample change, or why it has none."""
    if len(commit.parents) > 1:
        return "merge"
    if not commit.parents:
        return "root_commit"
    change = sample_change(commit.changes, options.corrected("one_changed_file"))
    if isinstance(change, str):
        return change
    if change.old_mode not in REGULAR or change.new_mode not in REGULAR:
        return "not_regular_file"
    lang = assign_language(change.path.decode("utf-8", errors="replace"), options.corrected("file_name_languages"))
    if lang is None:
        return "unknown_language"
    if wanted and lang not in wanted:
        return "language_not_selected"
    return change


def _emit(
    commit: gitio.Commit,
    change: gitio.Change,
    blobs: gitio.BlobReader,
    options: CrawlOptions,
    result: RepoResult,
    source: str,
    writer: SampleWriter,
) -> str | None:
    path = change.path.decode("utf-8", errors="replace")
    checks = MessageChecks.of(options)
    reason = checks.reason(commit.message, path)
    if reason is not None:
        return reason
    message = checks.text(commit.message)
    text_only = options.corrected("text_files_only")
    for sha in (change.old_blob, change.new_blob):
        size = blobs.size(sha)
        if size is None:
            return "missing_blob"
        if size > options.max_file_bytes:
            return "oversized"
    contents = []
    for sha in (change.old_blob, change.new_blob):
        data = blobs.read(sha) or b""
        if not text_only:
            # As the original's ``cat ... .decode(errors="ignore")``: bytes that are not UTF-8 are lost.
            contents.append(data.decode("utf-8", errors="ignore"))
            continue
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
            "lang": assign_language(path, options.corrected("file_name_languages")),
            "license": result.license,
            "repos": [source],
        }
    )
    result.samples += 1
    return None
