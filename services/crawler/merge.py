"""Merge per-repository partials into one stream, keeping a sha seen in several repositories once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from octopack.services.crawler.samples import SAMPLE_SCHEMA


def merged_batches(partials: list[tuple[str, Path]], counts: dict[str, int]) -> Iterator[pa.RecordBatch]:
    """Batches of every partial in order; a sha already emitted is dropped and counted.

    ``partials`` are (source, parquet path) in request order. A sha found in
    several repositories (forks) keeps the first repository's row, with every
    repository in ``repos``. Memory holds the shas of the partials, not their contents.
    """
    seen_in: dict[str, list[str]] = defaultdict(list)
    for source, path in partials:
        for sha in pq.read_table(path, columns=["commit"]).column("commit").to_pylist():
            seen_in[sha].append(source)
    shared = {sha: repos for sha, repos in seen_in.items() if len(repos) > 1}
    del seen_in
    emitted: set[str] = set()
    counts.setdefault("duplicate_across_repos", 0)
    for _source, path in partials:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            if not shared:
                yield batch
                continue
            shas = batch.column("commit").to_pylist()
            keep = [not (sha in shared and sha in emitted) for sha in shas]
            repos = batch.column("repos").to_pylist()
            for i, sha in enumerate(shas):
                if sha in shared and keep[i]:
                    emitted.add(sha)
                    repos[i] = shared[sha]
            counts["duplicate_across_repos"] += keep.count(False)
            arrays = [batch.column(name) for name in SAMPLE_SCHEMA.names]
            arrays[SAMPLE_SCHEMA.get_field_index("repos")] = pa.array(repos, SAMPLE_SCHEMA.field("repos").type)
            out = pa.RecordBatch.from_arrays(arrays, schema=SAMPLE_SCHEMA)
            yield out if all(keep) else out.filter(pa.array(keep, pa.bool_()))
