"""Translation between the proto messages and the domain (records, manifests, JSON)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from octopack.common.checks import nesting
from octopack.common.errors import InvalidArgument
from octopack.datasets.manifest import Manifest
from octopack.datasets.v1 import datasets_pb2


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def record_json(record: dict[str, Any]) -> str:
    """One record as a JSON object (dates as ISO text, bytes as base64)."""
    return json.dumps(record, ensure_ascii=False, default=_default)


def record_struct(record: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(json.loads(record_json(record)))
    return out


#: Deepest nesting of lists and objects in one record: columns are Arrow types, nested this far at most.
MAX_RECORD_DEPTH = 32


def records_from_json(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for i, line in enumerate(lines):
        deep = InvalidArgument(
            f"json.records[{i}] nests lists and objects more than {MAX_RECORD_DEPTH} levels deep"
        )
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"json.records[{i}] is not valid JSON: {exc}") from exc
        except RecursionError:  # deeper than the decoder goes
            raise deep from None
        if nesting(record, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH:
            raise deep
        if not isinstance(record, dict):
            raise InvalidArgument(f"json.records[{i}] must be a JSON object, got {type(record).__name__}")
        records.append(record)
    return records


def table_from_ipc(data: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise InvalidArgument(f"arrow_ipc is not an Arrow IPC stream: {exc}") from exc


def table_to_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as out:
        out.write(table)
    return bytes(sink.getvalue().to_pybytes())


def struct_dict(message: Any, field_name: str) -> dict[str, Any] | None:
    """The Struct field ``field_name`` of ``message`` as a dict, None when unset."""
    if not message.HasField(field_name):
        return None
    return dict(_ints(json_format.MessageToDict(getattr(message, field_name))))


def _ints(value: Any) -> Any:
    """Struct keeps every number as a double: give whole numbers (counts) back as ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def to_struct(doc: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if doc is None:
        return None
    out = struct_pb2.Struct()
    out.update(json.loads(json.dumps(doc, default=_default)))
    return out


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def manifest_proto(manifest: Manifest, bucket: str) -> datasets_pb2.Manifest:
    lineage = manifest.lineage
    return datasets_pb2.Manifest(
        name=manifest.name,
        version=manifest.version,
        created_at=timestamp(manifest.created_at),
        description=manifest.description,
        num_rows=manifest.num_rows,
        num_bytes=manifest.num_bytes,
        fields=[datasets_pb2.Field(name=f.name, type=f.type, nullable=f.nullable) for f in manifest.fields],
        shards=[
            datasets_pb2.Shard(key=s.key, rows=s.rows, bytes=s.bytes, sha256=s.sha256)
            for s in manifest.shards
        ],
        lineage=datasets_pb2.Lineage(
            parents=lineage.parents,
            job_id=lineage.job_id,
            filter_config=to_struct(lineage.filter_config),
            stats=to_struct(lineage.stats),
        ),
        extra=to_struct(manifest.extra),
        bucket=bucket,
        manifest_json=manifest.to_json().decode(),
    )


def version_summary(manifest: Manifest) -> datasets_pb2.VersionSummary:
    return datasets_pb2.VersionSummary(
        version=manifest.version,
        num_rows=manifest.num_rows,
        num_bytes=manifest.num_bytes,
        num_shards=len(manifest.shards),
        created_at=timestamp(manifest.created_at),
        parents=manifest.lineage.parents,
        job_id=manifest.lineage.job_id,
    )
