"""The repositories of a crawl: listed in the request, in a text file in S3, or in a dataset's ``url`` column.

Lists are streamed, never held whole: a crawl of a million repositories reads its list in pieces, and
each repository keeps its place in the list (``index``), which decides which of several forks keeps a
commit seen in all of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octopack.common.errors import InvalidArgument, NotFound

#: Column names of a repository dataset: the URL (or path), and optionally the license as given.
URL, LICENSE = "url", "license"


@dataclass(frozen=True)
class Source:
    """One repository to crawl: its place in the list, URL or path, and a license taken as given ('': detect)."""

    index: int
    url: str
    license: str = ""


def parse_line(line: str) -> str:
    """The URL or path on one line of a repositories file; '' for blank lines and ``#`` comments."""
    text = line.strip()
    if text.startswith("#"):
        return ""
    # A comment after the URL needs white space before its '#' (a '#' inside a URL is a fragment).
    for mark in (" #", "\t#"):
        if mark in text:
            text = text.split(mark, 1)[0].rstrip()
    return text


def read_lines(path: Path) -> list[str]:
    """The repositories of a local file (``octopack crawl --repos-file``), in order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"--repos-file: cannot read {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"--repos-file: {path} is not UTF-8 text: {exc}") from exc
    return [url for url in map(parse_line, text.splitlines()) if url]


def object_key(ref: str, bucket: str) -> str:
    """The key of ``s3://bucket/key`` or a bare ``key`` in the store's bucket."""
    ref = ref.strip()
    if ref.startswith("s3://"):
        found, _, key = ref[len("s3://"):].partition("/")
        if found != bucket or not key:
            raise InvalidArgument(
                f"repositories_file {ref!r}: name an object of the bucket {bucket!r} (s3://{bucket}/KEY, or KEY)"
            )
        return key
    if not ref or ref.startswith("/"):
        raise InvalidArgument(f"repositories_file {ref!r}: give an object key of the bucket, or s3://{bucket}/KEY")
    return ref


@dataclass(frozen=True)
class SourceList:
    """Where a crawl's repositories come from: exactly one of ``inline``, ``file`` or ``dataset``."""

    inline: tuple[str, ...] = ()
    file: str = ""
    dataset: str = ""

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the list (the list itself when it was given inline)."""
        if self.file:
            return {"repositories_file": self.file}
        if self.dataset:
            return {"repositories_dataset": self.dataset}
        return {"repositories": list(self.inline)}

    def check(self, store: Any) -> None:
        """Raise a clear error when the file or dataset is missing or has no ``url`` column."""
        if self.file:
            key = object_key(self.file, store.objects.bucket)
            if not store.objects.exists(key):
                raise NotFound(f"repositories_file {self.file!r}: no such object in s3://{store.objects.bucket}")
        elif self.dataset:
            from octopack.datasets.names import parse_ref

            manifest = store.get_manifest(*parse_ref(self.dataset))
            names = manifest.table_schema().names
            if URL not in names:
                raise InvalidArgument(
                    f"repositories_dataset {manifest.ref} has no {URL!r} column (it has: {', '.join(names)})"
                )

    def count(self, store: Any) -> int:
        """How many repositories the list names (a first pass over a file; a manifest's row count)."""
        if self.dataset:
            from octopack.datasets.names import parse_ref

            return store.get_manifest(*parse_ref(self.dataset)).num_rows
        return sum(1 for _ in self.iterate(store))

    def iterate(self, store: Any) -> Iterator[Source]:
        """Every repository in list order (blank lines and comments skipped)."""
        if self.file:
            yield from self._from_file(store)
        elif self.dataset:
            yield from self._from_dataset(store)
        else:
            for index, url in enumerate(u for u in self.inline if u.strip()):
                yield Source(index, url.strip())

    def _from_file(self, store: Any) -> Iterator[Source]:
        key = object_key(self.file, store.objects.bucket)
        with tempfile.TemporaryDirectory(prefix="octopack-repos-") as tmp:
            path = Path(tmp) / "repositories.txt"
            store.objects.get_file(key, path)  # streamed to disk: the list is never in memory whole
            index = 0
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    url = parse_line(line)
                    if url:
                        yield Source(index, url)
                        index += 1

    def _from_dataset(self, store: Any) -> Iterator[Source]:
        from octopack.datasets.names import parse_ref

        name, version = parse_ref(self.dataset)
        manifest = store.get_manifest(name, version)
        columns = [URL, LICENSE] if LICENSE in manifest.table_schema().names else [URL]
        index = 0
        for batch in store.iter_batches(name, manifest.version, columns):
            urls = batch.column(0).to_pylist()
            licenses = batch.column(1).to_pylist() if len(columns) == 2 else [""] * len(urls)
            for url, spdx in zip(urls, licenses, strict=True):
                if url and str(url).strip():
                    yield Source(index, str(url).strip(), str(spdx or ""))
                    index += 1
