"""Apply the rules to Arrow batches; a filter run is one piece of work per input shard, here or on Ray Data.

:func:`filter_shard` is what a worker does: it fetches one shard of the input version (checked against its
sha256), runs the rules over it batch by batch, writes the kept rows as the output version's shard(s)
``part-<input shard>-<chunk>`` straight into the output's staging area, and leaves a marker with the
shard's per-rule statistics. A retried or resumed worker finds the marker and returns it. The driver
merges the statistics in input order (:func:`merge_stats`) and commits the shard list, so the output is
the same rows in the same order as a run in one process.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from octopack.common.errors import FailedPrecondition, InvalidArgument
from octopack.datasets.manifest import Manifest, ShardInfo
from octopack.datasets.staging import StagingArea
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.rules import Rule, build_rules
from octopack.services.filter.stats import FilterStats

REQUIRED = ("commit", "new_file", "old_contents", "new_contents", "subject", "message", "lang")
TEXT = ("commit", "old_file", "new_file", "old_contents", "new_contents", "subject", "message", "lang", "license")
DROPPED_BY = "__dropped_by"


def check_columns(names: list[str]) -> None:
    """Raise :class:`InvalidArgument` unless ``names`` hold the CommitPack columns the rules read."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InvalidArgument(f"input dataset lacks the CommitPack column(s) {missing}: filter a crawled dataset")


def normalise(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """A table with every text column present as non-null strings."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    check_columns(table.column_names)
    for name in TEXT:
        if name in table.column_names and table[name].null_count:
            table = table.set_column(table.schema.get_field_index(name), name, pc.fill_null(table[name], ""))
    return table


def filter_table(table: pa.Table, rules: list[Rule]) -> tuple[pa.Table, list[tuple[int, int, pa.ChunkedArray]]]:
    """Run ``rules`` in order; return the kept rows and, per rule, (index, rows in, languages of dropped rows)."""
    drops = []
    for index, rule in enumerate(rules):
        if table.num_rows == 0:
            drops.append((index, 0, pa.chunked_array([], pa.string())))
            continue
        keep, table = rule.apply(table)
        keep = pc.fill_null(keep, False)
        drops.append((index, table.num_rows, table["lang"].filter(pc.invert(keep))))
        table = table.filter(keep)
    return table, drops


def run_local(
    batches: Iterable[pa.Table | pa.RecordBatch], rules: list[Rule], stats: FilterStats,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    """Filter batch by batch in this process, updating ``stats``; yields the kept rows."""
    for batch in batches:
        table = normalise(batch)
        stats.add_input(table["lang"])
        kept, drops = filter_table(table, rules)
        for index, rows_in, langs in drops:
            stats.add_drop(index, rows_in, langs)
        stats.add_output(kept["lang"])
        if on_batch is not None:
            on_batch(table.num_rows)
        if kept.num_rows:
            yield kept


def merge_stats(total: FilterStats, part: FilterStats) -> None:
    """Add ``part`` (one shard's statistics, the same rules) into ``total``."""
    total.rows_in += part.rows_in
    total.rows_out += part.rows_out
    total.in_by_lang.update(part.in_by_lang)
    total.out_by_lang.update(part.out_by_lang)
    for mine, theirs in zip(total.rules, part.rules, strict=True):
        mine.rows_in += theirs.rows_in
        mine.dropped += theirs.dropped
        mine.dropped_by_lang.update(theirs.dropped_by_lang)


#: Rows per filtered batch: large enough that each rule's kernels and encode_batch amortise.
BATCH_ROWS = 16384
SHARDS = "_shards/"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
_fetch_lock = threading.Lock()


def rebatch(batches: Iterator[pa.RecordBatch], rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Group small record batches into tables of about ``rows`` rows."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def upload_tokenizer(path: str, objects: Any, prefix: str) -> str:
    """Put a tokenizer's files under ``prefix`` of the bucket, for workers on other machines; its key prefix."""
    file = Path(path)
    file = file / "tokenizer.json" if file.is_dir() else file
    for name in _TOKENIZER_FILES:
        local = file.with_name(name)
        if local.is_file():
            objects.put(f"{prefix}{name}", local.read_bytes(), content_type="application/json")
    return prefix


@lru_cache(maxsize=4)
def _tokenizer_here(bucket: str, key: str, s3_json: str) -> str:
    """The run's tokenizer in a local folder of this process (downloaded once)."""
    from octopack.common.objectstore import ObjectStore, S3Settings

    objects = ObjectStore(S3Settings.model_validate_json(s3_json))
    folder = Path(tempfile.mkdtemp(prefix="octopack-tokenizer-"))
    for name in _TOKENIZER_FILES:
        try:
            objects.get_file(key + name, folder / name)
        except Exception:  # tokenizer_config.json is optional
            if name == "tokenizer.json":
                shutil.rmtree(folder, ignore_errors=True)
                raise
    return str(folder / "tokenizer.json")


@lru_cache(maxsize=4)
def _rules(config_json: str, tokenizer: str) -> list[Rule]:
    """The rules of a plan, built once per process (the tokenizer loads once)."""
    return build_rules(FilterConfig.model_validate_json(config_json), tokenizer)



class FilterPlan:
    """What every worker of one run needs: the input, the rules' configuration and where the tokenizer is.

    Plain data (it travels to Ray workers). ``tokenizer`` is the path as given (recorded in the lineage);
    ``tokenizer_key`` the S3 prefix of its uploaded files, which workers elsewhere download once.
    """

    def __init__(self, source: str, schema_b64: str, config_json: str, tokenizer: str = "", tokenizer_key: str = "") -> None:
        self.source = source
        self.schema_b64 = schema_b64
        self.config_json = config_json
        self.tokenizer = tokenizer
        self.tokenizer_key = tokenizer_key

    def to_doc(self) -> dict[str, str]:
        return dict(vars(self))

    @classmethod
    def from_doc(cls, doc: dict[str, str]) -> FilterPlan:
        return cls(**doc)

    def schema(self) -> pa.Schema:
        import base64

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.schema_b64)))

    def rules(self, area: StagingArea) -> list[Rule]:
        tokenizer = self.tokenizer
        if self.tokenizer_key:
            with _fetch_lock:
                tokenizer = _tokenizer_here(area.s3.bucket, self.tokenizer_key, area.s3.model_dump_json())
        return _rules(self.config_json, tokenizer)


def filter_shard(index: int, shard: ShardInfo, plan: FilterPlan, area: StagingArea) -> dict[str, Any]:
    """Filter input shard ``index`` into the staging area; its marker (statistics and output shards)."""
    marker_key = f"{SHARDS}{index:05d}.json"
    marker = area.get_json(marker_key)
    if isinstance(marker, dict) and marker.get("input") == shard.key:
        return marker
    rules = plan.rules(area)
    stats = FilterStats.for_rules(rules)
    schema = plan.schema()
    batches = area.store.read_shard(shard, schema, plan.source)
    out: list[ShardInfo] = []
    pending: list[pa.Table] = []
    rows = 0

    def flush() -> None:
        nonlocal pending, rows
        if pending:
            table = pa.concat_tables(pending).combine_chunks()
            out.append(area.write_shard(f"{index:05d}-{len(out):03d}", table, schema))
            pending, rows = [], 0

    for kept in run_local(rebatch(batches), rules, stats):
        pending.append(kept)
        rows += kept.num_rows
        if rows >= area.policy.max_rows:
            flush()
    flush()
    marker = {"index": index, "input": shard.key, "rows_in": stats.rows_in, "rows_out": stats.rows_out,
              "stats": stats.to_dict(), "shards": [s.model_dump(mode="json") for s in out]}
    area.put_json(marker_key, marker)
    return marker


Done = Callable[[dict[str, Any]], None]


class ShardRunner(Protocol):
    """Runs :func:`filter_shard` over every input shard; ``on_done`` gets each marker as it arrives."""

    def run(self, manifest: Manifest, plan: FilterPlan, area: StagingArea, on_done: Done,
            cancelled: Callable[[], bool]) -> None: ...


class LocalShardRunner:
    """One shard after the other, in this process (``octopack filter`` without Ray)."""

    def run(self, manifest: Manifest, plan: FilterPlan, area: StagingArea, on_done: Done,
            cancelled: Callable[[], bool]) -> None:
        for index, shard in enumerate(manifest.shards):
            if cancelled():
                return
            on_done(filter_shard(index, shard, plan, area))


def _filter_rows(batch: pa.Table, plan: FilterPlan, area: StagingArea) -> pa.Table:
    """Ray Data batch function: input shards (index, shard) in, their markers out."""
    markers = [
        json.dumps(filter_shard(int(i), ShardInfo.model_validate_json(s), plan, area))
        for i, s in zip(batch.column("index").to_pylist(), batch.column("shard").to_pylist(), strict=True)
    ]
    return pa.table({"marker": pa.array(markers, pa.string())})


class RayShardRunner:
    """Ray Data over the input version's shards: one shard per task, retried when its worker dies."""

    def __init__(self, address: str = "") -> None:
        self.address = address

    def run(self, manifest: Manifest, plan: FilterPlan, area: StagingArea, on_done: Done,
            cancelled: Callable[[], bool]) -> None:
        if not manifest.shards:
            return
        try:
            # Untyped on purpose: Ray's stubs do not describe Arrow batch functions with keyword arguments.
            ray: Any = importlib.import_module("ray")
        except ImportError as exc:
            raise FailedPrecondition("filtering on Ray needs Ray: pip install 'octopack[train]'") from exc
        if self.address:
            from octopack.ray_jobs.cluster import join_cluster

            join_cluster(self.address)  # refuses an address other than the cluster this process already joined
        elif not ray.is_initialized():
            ray.init(ignore_reinit_error=True, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        items = [{"index": i, "shard": s.model_dump_json()} for i, s in enumerate(manifest.shards)]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _filter_rows, fn_kwargs={"plan": plan, "area": area}, batch_size=1, batch_format="pyarrow",
        )
        for row in ds.iter_rows():
            on_done(json.loads(row["marker"]))
            if cancelled():
                return
