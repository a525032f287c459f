"""Filter runs the server executes in background threads."""

from __future__ import annotations

from collections.abc import Hashable

from octopack.common.background import CANCELLED, FAILED, RUNNING, SUCCEEDED, BackgroundJob, BackgroundRuns
from octopack.services.filter.run import FilterRun

__all__ = ["CANCELLED", "FAILED", "RUNNING", "SUCCEEDED", "FilterJob", "FilterJobs"]

FilterJob = BackgroundJob[FilterRun]


class FilterJobs(BackgroundRuns[FilterRun]):
    noun = "filter run"
    list_rpc = "ListFilters"

    def work_id(self, work: FilterRun) -> str:
        return work.run_id

    def execute(self, work: FilterRun) -> None:
        work.run()

    def observe(self, job: FilterJob) -> Hashable:
        return job.work.rows_done
