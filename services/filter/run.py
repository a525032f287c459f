"""One filter run: read a dataset version, apply the rules, write a new version with per-rule statistics.

:class:`FilterRun` validates a request where it is made (the input exists and has the CommitPack columns,
the configuration parses, the tokenizer loads) and becomes a :class:`~.pipeline.FilterPlan`. :meth:`run`
is the driver: one piece of work per input shard (:func:`~.pipeline.filter_shard`, here or on Ray Data),
the statistics merged in input order, the output committed from its staged shards.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition
from octopack.datasets.manifest import ShardInfo, encode_schema
from octopack.datasets.names import check_name, parse_ref
from octopack.datasets.store import DatasetStore
from octopack.services.filter import pipeline
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import FilterPlan, ShardRunner
from octopack.services.filter.rules import build_rules
from octopack.services.filter.stats import FilterStats
from octopack.services.filter.tokens import default_tokenizer_path, token_counter


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


def _sha256_of(path: str) -> str:
    file = Path(path)
    file = file / "tokenizer.json" if file.is_dir() else file
    return hashlib.sha256(file.read_bytes()).hexdigest()


Report = Callable[["FilterDriver"], None]


class FilterRun:
    """A validated filter request: the exact input version, the rules, the tokenizer (checked where asked)."""

    def __init__(self, request: FilterRequest, store: DatasetStore, run_id: str = "") -> None:
        self.request = request
        self.store = store
        self.name, self.version = parse_ref(request.source)
        check_name(request.out)
        self.manifest = store.get_manifest(self.name, self.version)
        pipeline.check_columns(self.manifest.table_schema().names)
        self.tokenizer = resolve_tokenizer(request.config)
        self.tokenizer_sha256 = _sha256_of(self.tokenizer) if self.tokenizer else ""
        self.rules = build_rules(request.config, self.tokenizer)
        self.run_id = run_id or f"{request.out}-{self.fingerprint()[:12]}"

    def fingerprint(self) -> str:
        """What makes two requests the same run: the exact input, the output name, the rules, the tokenizer's bytes."""
        doc = self.request.config.model_dump_json() + self.manifest.ref + self.request.out + self.tokenizer_sha256
        return hashlib.sha256(doc.encode()).hexdigest()

    def plan(self, tokenizer_key: str = "") -> FilterPlan:
        return FilterPlan(self.manifest.ref, encode_schema(self.manifest.table_schema()),
                          self.request.config.model_dump_json(), self.tokenizer, tokenizer_key)

    def config_doc(self) -> dict[str, Any]:
        doc = self.request.config.model_dump(mode="json")
        doc["tokenizer"] = self.tokenizer
        doc["tokenizer_sha256"] = self.tokenizer_sha256
        doc["rules"] = [f"{r.number}:{r.name}" for r in self.rules]
        doc["active_corrections"] = self.request.config.active_corrections()
        return doc

    def description(self) -> str:
        return self.request.description or f"CommitPackFT filter of {self.manifest.ref}"

    def job(self, tokenizer_key: str = "") -> dict[str, Any]:
        """Everything the driver needs, as JSON (the run record's request)."""
        return {"plan": self.plan(tokenizer_key).to_doc(), "out": self.request.out, "description": self.description(),
                "config_doc": self.config_doc(), "rows_total": self.manifest.num_rows}

    def driver(self, tokenizer_key: str = "") -> FilterDriver:
        return FilterDriver.from_job(self.job(tokenizer_key), self.run_id, self.store)


class FilterDriver:
    """The driver of one run: filters every input shard, merges the statistics in input order, commits.

    It needs no local path: the rules come from the plan (the tokenizer from S3 when uploaded), and the
    output is staged under the run id, so a second driver of the run resumes the shards already done.
    Progress (``rows_done`` of ``rows_total``) is readable from other threads.
    """

    def __init__(self, plan: FilterPlan, out: str, run_id: str, store: DatasetStore, description: str,
                 config_doc: dict[str, Any], rows_total: int) -> None:
        self.plan = plan
        self.out = out
        self.run_id = run_id
        self.store = store
        self.description = description
        self.config_doc = config_doc
        self.rows_total = rows_total
        self.rows_done = 0
        self.stats: FilterStats | None = None
        self.output = ""
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()

    @classmethod
    def from_job(cls, job: dict[str, Any], run_id: str, store: DatasetStore) -> FilterDriver:
        return cls(FilterPlan.from_doc(job["plan"]), job["out"], run_id, store, job["description"],
                   job["config_doc"], int(job["rows_total"]))

    def run(self, runner: ShardRunner, report: Report | None = None) -> str:
        """Filter, commit and return the output reference ``out@vN``."""
        started = time.perf_counter()
        manifest = self.store.get_manifest(*parse_ref(self.plan.source))
        area = self.store.stage(self.out, self.run_id, parents=(manifest.ref,), description=self.description)
        done = area.committed()
        if done is not None:  # an earlier driver of this run committed it: read it back
            with self.lock:
                self.stats, self.rows_done, self.output = FilterStats.from_dict(done.lineage.stats or {}), self.rows_total, done.ref
            return self.output
        stats = FilterStats.for_rules(self.plan.rules(area))
        with self.lock:
            self.stats = stats
        markers: dict[int, dict[str, Any]] = {}

        def on_done(marker: dict[str, Any]) -> None:
            with self.lock:
                markers[int(marker["index"])] = marker
                self.rows_done += int(marker["rows_in"])
                pipeline.merge_stats(stats, FilterStats.from_dict(marker["stats"]))
            if report is not None:
                report(self)

        runner.run(manifest, self.plan, area, on_done, self.cancel_event.is_set)
        if self.cancel_event.is_set():
            raise FailedPrecondition(f"filter run {self.run_id} was cancelled")
        missing = [i for i in range(len(manifest.shards)) if i not in markers]
        if missing:
            raise FailedPrecondition(f"filter run {self.run_id}: input shards {missing[:5]} were not filtered")
        shards = [ShardInfo.model_validate(s) for i in sorted(markers) for s in markers[i]["shards"]]
        doc = stats.to_dict()
        doc["seconds"] = round(time.perf_counter() - started, 3)
        committed = area.commit(shards, manifest.table_schema(), filter_config=self.config_doc, stats=doc,
                                extra={"filter": {"run_id": self.run_id, "input": manifest.ref}},
                                profile=str(self.config_doc.get("profile", "")))
        with self.lock:
            self.output = committed.ref
        return self.output

    def progress(self) -> dict[str, Any]:
        """What the run record's progress document holds."""
        with self.lock:
            return {"rows_total": self.rows_total, "rows_done": self.rows_done,
                    "stats": self.stats.to_dict() if self.stats is not None else None, "output": self.output}
