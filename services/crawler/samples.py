"""The CommitPack sample schema and a bounded-memory Parquet writer for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("commit", pa.string()),
        pa.field("old_file", pa.string()),
        pa.field("new_file", pa.string()),
        pa.field("old_contents", pa.string()),
        pa.field("new_contents", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("message", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("license", pa.string()),
        pa.field("repos", pa.list_(pa.string())),
    ]
)
COLUMNS = tuple(SAMPLE_SCHEMA.names)


def to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """Rows (dicts with every sample field) as one record batch of :data:`SAMPLE_SCHEMA`."""
    return pa.RecordBatch.from_pylist(rows, schema=SAMPLE_SCHEMA)


class SampleWriter:
    """Appends samples to one Parquet file, flushing a row group every ``flush_bytes`` of text.

    Memory holds at most one row group's worth of samples.
    """

    def __init__(self, path: Path, flush_bytes: int = 16 << 20) -> None:
        self.path = path
        self._flush_bytes = flush_bytes
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(str(path), SAMPLE_SCHEMA, compression="zstd")

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._bytes += len(row["old_contents"]) + len(row["new_contents"]) + len(row["message"])
        self.count += 1
        if self._bytes >= self._flush_bytes:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.write_batch(to_batch(self._rows))
            self._rows, self._bytes = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()
