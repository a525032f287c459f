"""The CommitPack sample schema, the per-repository intermediate schema, and a bounded-memory Parquet writer."""

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
#: A repository's samples before de-duplication across repositories: where each row came from
#: (the repository's place in the request, the row's place in its history walk), so the first
#: repository of a fork family keeps the row, whichever worker saw it first.
ORDER, ROW = "_order", "_row"
INTERMEDIATE_SCHEMA = SAMPLE_SCHEMA.append(pa.field(ORDER, pa.int64())).append(pa.field(ROW, pa.int64()))


class SampleWriter:
    """Appends samples to one Parquet file, flushing a row group every ``flush_bytes`` of text.

    Memory holds at most one row group's worth of samples. With ``order`` (the repository's place in
    the request) the file has :data:`INTERMEDIATE_SCHEMA`: each row also gets ``_order`` and ``_row``.
    """

    def __init__(self, path: Path, flush_bytes: int = 16 << 20, order: int | None = None) -> None:
        self.path = path
        self._flush_bytes = flush_bytes
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self.count = 0
        self.order = order
        self.schema = SAMPLE_SCHEMA if order is None else INTERMEDIATE_SCHEMA
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def add(self, row: dict[str, Any]) -> None:
        if self.order is not None:
            row = {**row, ORDER: self.order, ROW: self.count}
        self._rows.append(row)
        self._bytes += len(row["old_contents"]) + len(row["new_contents"]) + len(row["message"])
        self.count += 1
        if self._bytes >= self._flush_bytes:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.write_batch(pa.RecordBatch.from_pylist(self._rows, schema=self.schema))
            self._rows, self._bytes = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()
