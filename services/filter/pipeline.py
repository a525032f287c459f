"""Apply the rules to Arrow batches, locally or with Ray Data (the same batch function)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from octopack.common.errors import FailedPrecondition, InvalidArgument
from octopack.services.filter.rules import Rule
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


def mark_batch(batch: pa.Table, rules: list[Rule]) -> pa.Table:
    """The Ray Data batch function: kept rows, then one stub row per dropped row carrying its rule.

    Stubs hold only ``lang`` and the rule index (other columns null), so the
    driver rebuilds exact statistics without shipping dropped contents back.
    """
    table = normalise(batch)
    kept, drops = filter_table(table, rules)
    stub_lang = pa.chunked_array([langs for _, _, langs in drops], pa.string()).combine_chunks()
    stub_rule = pa.array([i for i, _, langs in drops for _ in range(len(langs))], pa.int32())
    kept = kept.append_column(DROPPED_BY, pa.nulls(kept.num_rows, pa.int32()))
    stubs = pa.table(
        {name: (stub_lang if name == "lang" else stub_rule if name == DROPPED_BY else pa.nulls(len(stub_lang), field.type))
         for name, field in zip(kept.column_names, kept.schema, strict=True)},
        schema=kept.schema,
    )
    return pa.concat_tables([kept, stubs])


def absorb(marked: pa.Table, stats: FilterStats) -> pa.Table:
    """Statistics from one :func:`mark_batch` output; returns its kept rows without the marker column."""
    rule = marked[DROPPED_BY]
    is_kept = pc.is_null(rule)
    kept = marked.filter(is_kept).drop_columns([DROPPED_BY])
    dropped = marked.filter(pc.invert(is_kept))
    rows = kept.num_rows + dropped.num_rows
    stats.add_input(marked["lang"])
    by_rule = dropped[DROPPED_BY]
    remaining = rows
    for index in range(len(stats.rules)):
        langs = dropped["lang"].filter(pc.equal(by_rule, index))
        stats.add_drop(index, remaining, langs)
        remaining -= len(langs)
    stats.add_output(kept["lang"])
    return kept


def run_ray(
    batches: Iterable[pa.Table | pa.RecordBatch], rules: list[Rule], stats: FilterStats, address: str,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    """Filter with Ray Data ``map_batches`` on the cluster at ``address`` (same rules, same results)."""
    try:
        # Untyped on purpose: Ray's stubs do not describe Arrow batch functions with keyword arguments.
        ray: Any = importlib.import_module("ray")
    except ImportError as exc:
        raise FailedPrecondition("ray_address needs Ray: pip install 'octopack[train]'") from exc
    from octopack.ray_jobs.cluster import join_cluster

    join_cluster(address)  # refuses an address other than the cluster this process already joined
    # Output in input order: the same run writes the same version, locally or on Ray.
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    refs = [ray.put(normalise(b)) for b in batches]
    if not refs:
        return
    ds = ray.data.from_arrow_refs(refs).map_batches(
        mark_batch, fn_kwargs={"rules": rules}, batch_format="pyarrow", batch_size=None, zero_copy_batch=True
    )
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        kept = absorb(batch, stats)
        if on_batch is not None:
            on_batch(batch.num_rows)
        if kept.num_rows:
            yield kept
