"""The crawl's Ray job: ``python -m octopack.services.crawler.driver --run-id ID --records PREFIX``.

The crawler service submits this (one job per launch of a run); it reads the run's request from the run
record in S3, stages the output version under the run id (so a second launch of the same run resumes
what the first staged), crawls every repository as a Ray task, de-duplicates forks with Ray Data,
commits, and writes its progress and result next to the run record. S3 settings come from the
job's environment (``OCTOPACK_S3_*``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from octopack.common.background import CANCELLED, SUCCEEDED, RunRecords
from octopack.common.drivers import CANCEL_RECORD
from octopack.common.errors import OctopackError
from octopack.common.logging import setup_logging
from octopack.common.objectstore import S3Settings
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.crawl import PARTITION_BYTES, Crawl, CrawlProgress, CrawlRequest
from octopack.services.crawler.runner import Runner

log = logging.getLogger(__name__)


def describe(request: CrawlRequest) -> str:
    listed = request.source_list().describe()
    what = next(iter(listed.values())) if "repositories" not in listed else f"{len(request.sources)} repositories"
    return f"CommitPack samples crawled from {what}"


def run(run_id: str, records: RunRecords, store: DatasetStore, runner: Runner, partition_bytes: int) -> dict[str, Any]:
    """Run the recorded request of ``run_id``; return the result document (also stored as ``result.json``)."""
    found = records.read(run_id)
    if found is None:
        raise SystemExit(f"no run record {records.key(run_id, 'run')}")
    request = CrawlRequest.from_doc(found[0]["request"])

    def report(progress: CrawlProgress) -> None:
        records.put(run_id, "progress", progress.to_doc())

    try:
        area = store.stage(request.dataset, run_id, description=describe(request))
        crawl = Crawl(request, area, runner, report, partition_bytes,
                      stop_requested=lambda: records.get(run_id, CANCEL_RECORD) is not None)
        progress = crawl.run()
        if crawl.cancel_event.is_set():  # the service left the cancellation marker: nothing was committed
            result = {"state": CANCELLED, "error": f"crawl {run_id} was cancelled", "code": "CANCELLED",
                      "progress": progress.to_doc()}
        else:
            result = {"state": SUCCEEDED, "output": f"{request.dataset}@{progress.version}",
                      "progress": progress.to_doc()}
    except OctopackError as exc:
        log.error("crawl %s failed: %s", run_id, exc.message)
        result = {"state": "failed", "error": exc.message, "code": exc.code}
    records.put(run_id, "result", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m octopack.services.crawler.driver", description=__doc__)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--records", required=True, help="key prefix of the crawler's run records")
    parser.add_argument("--datasets-root", default="datasets")
    parser.add_argument("--partition-bytes", type=int, default=PARTITION_BYTES)
    args = parser.parse_args(argv)
    setup_logging()
    from octopack.services.crawler.runner import RayRunner

    store = DatasetStore.from_settings(S3Settings(), root=args.datasets_root)
    records = RunRecords(store.objects, args.records)
    result = run(args.run_id, records, store, RayRunner(), args.partition_bytes)
    return 0 if result["state"] == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
