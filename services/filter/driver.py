"""The filter's Ray job: ``python -m octopack.services.filter.driver --run-id ID --records PREFIX``.

The filter service submits this (one job per launch of a run). It reads the run's plan from the run
record in S3, stages the output under the run id, runs one Ray Data task per input shard (each writes
its output shard and marker into the staging area), merges the per-rule statistics, commits, and writes
its progress and result next to the run record. S3 settings come from the job's environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from octopack.common.background import SUCCEEDED, RunRecords
from octopack.common.errors import OctopackError
from octopack.common.logging import setup_logging
from octopack.common.objectstore import S3Settings
from octopack.datasets.store import DatasetStore
from octopack.services.filter.pipeline import ShardRunner
from octopack.services.filter.run import FilterDriver

log = logging.getLogger(__name__)


def run(run_id: str, records: RunRecords, store: DatasetStore, runner: ShardRunner) -> dict[str, Any]:
    """Run the recorded plan of ``run_id``; return the result document (also stored as ``result.json``)."""
    found = records.read(run_id)
    if found is None:
        raise SystemExit(f"no run record {records.key(run_id, 'run')}")
    driver = FilterDriver.from_job(found[0]["request"], run_id, store)
    last = [0.0]

    def report(d: FilterDriver) -> None:
        import time

        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            records.put(run_id, "progress", d.progress())

    try:
        output = driver.run(runner, report)
        result = {"state": SUCCEEDED, "output": output, "progress": driver.progress()}
    except OctopackError as exc:
        log.error("filter run %s failed: %s", run_id, exc.message)
        result = {"state": "failed", "error": exc.message, "code": exc.code, "progress": driver.progress()}
    records.put(run_id, "result", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m octopack.services.filter.driver", description=__doc__)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--records", required=True, help="key prefix of the filter's run records")
    parser.add_argument("--datasets-root", default="datasets")
    args = parser.parse_args(argv)
    setup_logging()
    from octopack.services.filter.pipeline import RayShardRunner

    store = DatasetStore.from_settings(S3Settings(), root=args.datasets_root)
    result = run(args.run_id, RunRecords(store.objects, args.records), store, RayShardRunner())
    return 0 if result["state"] == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
