"""One filter run: read a dataset version, apply the rules, write a new version with per-rule statistics."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from octopack.common.errors import FailedPrecondition
from octopack.datasets.names import check_name, parse_ref
from octopack.datasets.store import DatasetStore
from octopack.services.filter import pipeline
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.rules import build_rules
from octopack.services.filter.stats import FilterStats
from octopack.services.filter.tokens import default_tokenizer_path, token_counter

#: Rows per filtered batch: large enough that each rule's kernels and encode_batch amortise.
BATCH_ROWS = 16384


@dataclass
class FilterRequest:
    """What to filter into what, and how."""

    source: str
    out: str
    config: FilterConfig = field(default_factory=FilterConfig)
    ray_address: str = ""
    description: str = ""


def resolve_tokenizer(config: FilterConfig) -> str:
    """The tokenizer path of the run: the config's, else the default model's; '' when rule 8 is off."""
    if not config.token_length.enabled:
        return ""
    path = config.tokenizer or default_tokenizer_path()
    if not path:
        raise FailedPrecondition(
            "the token-length rule needs a tokenizer: pass --tokenizer PATH (tokenizer.json or a model folder), "
            "set 'tokenizer' in the config, or disable token_length"
        )
    token_counter(path, config.token_length.eos_token)  # fail now, with a clear message, if it does not load
    return path


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


class FilterRun:
    """A validated filter run; progress (``rows_done`` of ``rows_total``) is readable from other threads."""

    def __init__(self, request: FilterRequest, store: DatasetStore, run_id: str = "") -> None:
        self.request = request
        self.store = store
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.name, self.version = parse_ref(request.source)
        check_name(request.out)
        self.manifest = store.get_manifest(self.name, self.version)
        pipeline.check_columns(self.manifest.table_schema().names)
        self.tokenizer = resolve_tokenizer(request.config)
        self.rules = build_rules(request.config, self.tokenizer)
        self.stats = FilterStats.for_rules(self.rules)
        self.rows_total = self.manifest.num_rows
        self.rows_done = 0
        self.output = ""
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()

    def _progress(self, rows: int) -> None:
        with self.lock:
            self.rows_done += rows

    def run(self) -> str:
        """Filter and commit; return the output reference ``out@vN``."""
        started = time.perf_counter()
        request = self.request
        batches = rebatch(self.store.iter_batches(self.name, self.manifest.version))
        if request.ray_address:
            kept = pipeline.run_ray(batches, self.rules, self.stats, request.ray_address, self._progress)
        else:
            kept = pipeline.run_local(batches, self.rules, self.stats, self._progress)
        writer = self.store.create_version(
            request.out, parents=(self.manifest.ref,), job_id=self.run_id,
            description=request.description or f"CommitPackFT filter of {self.manifest.ref}",
        )
        try:
            for table in kept:
                if self.cancel_event.is_set():
                    raise FailedPrecondition(f"filter run {self.run_id} was cancelled")
                writer.write(table)
        except BaseException:
            writer.abort()
            raise
        stats = self.stats.to_dict()
        stats["seconds"] = round(time.perf_counter() - started, 3)
        manifest = writer.commit(filter_config=self.config_doc(), stats=stats,
                                 extra={"filter": {"run_id": self.run_id, "input": self.manifest.ref}},
                                 profile=request.config.profile)
        self.output = manifest.ref
        return self.output

    def config_doc(self) -> dict[str, Any]:
        doc = self.request.config.model_dump(mode="json")
        doc["tokenizer"] = self.tokenizer
        doc["rules"] = [f"{r.number}:{r.name}" for r in self.rules]
        doc["active_corrections"] = self.request.config.active_corrections()
        return doc
