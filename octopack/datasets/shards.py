"""Parquet shards: how many rows go in one, how they are encoded, checked and aligned."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from octopack.common.errors import DataLoss, InvalidArgument

MiB = 1024 * 1024


@dataclass(frozen=True)
class ShardPolicy:
    """When the writer closes a shard: at ``max_rows`` rows or ``max_bytes`` of Arrow data.

    ``convert_rows`` dict records are turned into Arrow at a time (bounded memory, one schema
    inference per chunk). Row groups hold about ``row_group_bytes`` so a reader streams a shard
    in pieces of that size.
    """

    max_rows: int = 100_000
    max_bytes: int = 128 * MiB
    convert_rows: int = 2048
    row_group_bytes: int = 32 * MiB
    compression: str = "zstd"
    compression_level: int | None = None

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_bytes < 1 or self.convert_rows < 1:
            raise InvalidArgument("shard policy: max_rows, max_bytes and convert_rows must be >= 1")

    def full(self, rows: int, nbytes: int) -> bool:
        return rows >= self.max_rows or nbytes >= self.max_bytes

    def row_group_rows(self, table: pa.Table) -> int:
        if table.num_rows == 0:
            return 1
        per_row = max(1, table.nbytes // table.num_rows)
        return max(1, min(table.num_rows, self.row_group_bytes // per_row, 65536))


def encode(table: pa.Table, policy: ShardPolicy) -> tuple[bytes, str]:
    """Parquet bytes of ``table`` and their sha256 (hex)."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=policy.compression,
        compression_level=policy.compression_level,
        row_group_size=policy.row_group_rows(table),
    )
    data = sink.getvalue().to_pybytes()
    return data, hashlib.sha256(data).hexdigest()


def verify(data: bytes, *, key: str, sha256: str, size: int, ref: str) -> None:
    """Raise :class:`DataLoss` naming the shard if ``data`` is not what the manifest recorded."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256 or len(data) != size:
        raise DataLoss(
            f"shard {key} of {ref} is corrupt: sha256 {actual[:16]}... ({len(data)} bytes) does not match "
            f"the manifest's {sha256[:16]}... ({size} bytes); restore it or delete the version"
        )


def decode(data: bytes, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of a verified shard, read as ``schema`` (its columns, in its order)."""
    file = pq.ParquetFile(pa.BufferReader(data))
    present = set(file.schema_arrow.names)
    columns = [name for name in schema.names if name in present]
    for batch in file.iter_batches(batch_size=batch_rows, columns=columns, use_threads=True):
        yield align(batch, schema)


def align(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``'s columns: cast where types differ, nulls where missing."""
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, type=field.type))
            continue
        column = batch.column(index)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise InvalidArgument(
                    f"column {field.name!r}: {column.type} values do not fit the dataset's {field.type}"
                ) from exc
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def unify(current: pa.Schema | None, incoming: pa.Schema) -> pa.Schema:
    """The schema that holds both (null columns take the other side's type; ints widen)."""
    if current is None:
        return incoming
    if current.equals(incoming, check_metadata=False):
        return current
    try:
        return pa.unify_schemas([current, incoming], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidArgument(f"records do not fit the dataset's schema so far: {exc}") from exc


def to_batches(records: Iterable[dict[str, Any]], chunk: int) -> Iterator[pa.RecordBatch]:
    """Arrow batches of ``chunk`` dict records each (types inferred per chunk)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        if not isinstance(record, dict):
            raise InvalidArgument(f"a record must be a dict (JSON object), got {type(record).__name__}")
        rows.append(record)
        if len(rows) >= chunk:
            yield _from_rows(rows)
            rows = []
    if rows:
        yield _from_rows(rows)


def _from_rows(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    # from_pylist takes its columns from the first row only: collect every key in order of appearance.
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    try:
        columns = {name: [row.get(name) for row in rows] for name in names}
        return pa.RecordBatch.from_pydict(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgument(f"records cannot be stored as columns: {exc}") from exc
