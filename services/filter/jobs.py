"""The filter service's runs: each filter run a Ray job (:mod:`.driver`), followed and adopted by run id."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from octopack.common.background import LATE_WRITES_S, BackgroundJob, RunRecords, check_run_id
from octopack.common.drivers import DriverRuns, DriverWork, driver_env
from octopack.datasets.store import DatasetStore
from octopack.ray_jobs.cluster import RayJobClient
from octopack.services.filter import pipeline
from octopack.services.filter.run import FilterRun
from octopack.services.filter.settings import FilterSettings
from octopack.services.filter.stats import FilterStats


class FilterWork(DriverWork):
    """One filter run: its job document (plan, output) and, while it runs, the driver's progress."""

    def __init__(self, run_id: str, fingerprint: str, job: dict[str, Any], store: DatasetStore) -> None:
        super().__init__(check_run_id(run_id), fingerprint, job)
        self.store = store

    @property
    def out(self) -> str:
        return str(self.request["out"])

    def counters(self) -> tuple[int, int, FilterStats | None]:
        """Rows total, rows done and the statistics so far."""
        with self.lock:
            doc = dict(self.progress)
        stats = FilterStats.from_dict(doc["stats"]) if doc.get("stats") else None
        return int(self.request.get("rows_total", 0)), int(doc.get("rows_done", 0)), stats

    def on_cancelled(self) -> None:
        self.store.abort_run(self.out, self.run_id, late_writes_s=LATE_WRITES_S)


FilterJob = BackgroundJob[FilterWork]


class FilterRuns(DriverRuns[FilterWork]):
    noun = "filter run"
    list_rpc = "ListFilters"

    def __init__(self, settings: FilterSettings, store: DatasetStore, ray: Any = None) -> None:
        self.settings = settings
        self.store = store
        python = settings.ray_python or sys.executable

        def entrypoint(run_id: str) -> str:
            return shlex.join([
                python, "-m", "octopack.services.filter.driver", "--run-id", run_id, "--records", settings.runs_prefix,
                "--datasets-root", settings.datasets_root,
            ])

        super().__init__(
            RunRecords(store.objects, settings.runs_prefix), ray or RayJobClient(settings.ray_address), entrypoint,
            driver_env(store.objects.settings, settings.log_level), self._load, settings.poll_seconds,
        )

    def _load(self, run_id: str, record: dict[str, Any]) -> FilterWork:
        return FilterWork(run_id, record["fingerprint"], record["request"], self.store)

    def begin(self, run: FilterRun) -> FilterJob:
        """Start (or return, or resume) the run; its tokenizer goes to S3 first, for workers anywhere."""
        key = ""
        if run.tokenizer:
            key = pipeline.upload_tokenizer(run.tokenizer, self.store.objects, self.records.folder(run.run_id) + "tokenizer/")
        return self.start(FilterWork(run.run_id, run.fingerprint(), run.job(key), self.store))
