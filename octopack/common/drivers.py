"""Runs whose work is a Ray job (a driver): launched or adopted by run id, followed through their records.

The crawler and the filter build their runs on :class:`DriverRuns`; the run records, the states and the
run-id rule are those of :mod:`octopack.common.background`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from octopack.common.background import (
    CANCELLED,
    RUNNING,
    SUCCEEDED,
    BackgroundJob,
    BackgroundRuns,
    RunRecords,
    is_run_id,
)
from octopack.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    OctopackError,
    Unavailable,
    error_for_code,
)
from octopack.common.objectstore import ConditionFailed, S3Settings

log = logging.getLogger(__name__)


class DriverWork:
    """One run whose work is a Ray job; services subclass it with their request and clean-up.

    ``resume``: when its last driver died (failed or stopped without a result), start a new one that picks
    up what the run staged. False for runs adopted only to be read (GetCrawl after a restart).
    """

    def __init__(self, run_id: str, fingerprint: str, request: dict[str, Any], resume: bool = True) -> None:
        self.run_id = run_id
        self.fingerprint = fingerprint
        self.request = request
        self.resume = resume
        self.cancel_event = threading.Event()
        self.lock = threading.Lock()
        self.progress: dict[str, Any] = {}
        self.result: dict[str, Any] = {}
        self.launches = 0
        self.launched_here = 0

    #: Seconds between :meth:`before_stop` and stopping the driver: the run's tasks notice it in that time.
    stop_grace_s = 0.0

    def before_stop(self) -> None:
        """Tell the run's tasks it is cancelled, before its driver is stopped; services override it."""

    def on_cancelled(self) -> None:
        """Remove what the run staged (its Ray job is stopped); services override it."""

    def outcome(self) -> str:
        """The output reference of a succeeded run."""
        return str(self.result.get("output", ""))


D = TypeVar("D", bound=DriverWork)

#: The run record a cancel leaves before it stops the run's driver; a new launch of the run removes it.
CANCEL_RECORD = "cancel"


def driver_env(s3: S3Settings, log_level: str = "INFO") -> dict[str, str]:
    """The environment of a driver: the service's ``OCTOPACK_S3_*`` (the same bucket) and its log level."""
    return {
        "OCTOPACK_S3_ENDPOINT": s3.endpoint, "OCTOPACK_S3_ACCESS_KEY": s3.access_key,
        "OCTOPACK_S3_SECRET_KEY": s3.secret_key, "OCTOPACK_S3_BUCKET": s3.bucket,
        "OCTOPACK_S3_SECURE": "true" if s3.secure else "false", "OCTOPACK_S3_REGION": s3.region,
        "OCTOPACK_LOG_LEVEL": log_level,
    }


def submission_id(run_id: str, launch: int) -> str:
    """The Ray job of a run's ``launch``-th driver."""
    return f"{run_id}.d{launch}"


class DriverRuns(BackgroundRuns[D]):
    """Runs backed by Ray jobs: launched or adopted by run id, followed through their records in S3.

    ``entrypoint(run_id)`` is the driver's command line; ``env`` its environment (S3 settings, log level).
    """

    def __init__(
        self, records: RunRecords, ray: Any, entrypoint: Callable[[str], str], env: dict[str, str],
        load: Callable[[str, dict[str, Any]], D], poll_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.records = records
        self.ray = ray
        self.entrypoint = entrypoint
        self.env = env
        self.load = load
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self._starting: dict[str, threading.Lock] = {}

    def work_id(self, work: D) -> str:
        return work.run_id

    def same(self, current: D, new: D) -> bool:
        return current.fingerprint == new.fingerprint

    def observe(self, job: BackgroundJob[D]) -> Hashable:
        with job.work.lock:
            return json.dumps(job.work.progress, sort_keys=True)

    def get(self, work_id: str) -> BackgroundJob[D]:
        """The run, adopted from its records when this process has not seen it (after a restart)."""
        job = self.jobs.get(work_id)
        if job is not None:
            return job
        found = self.records.read(work_id) if is_run_id(work_id) else None
        if found is None:
            raise NotFound(f"{self.noun} {work_id!r} does not exist: list them with {self.list_rpc}")
        work = self.load(work_id, found[0])
        work.resume = False
        with self.lock:
            job = self.jobs.get(work_id)
            if job is None:
                job = self.jobs[work_id] = BackgroundJob(work)
                self._spawn(job, work_id)
        return job

    def start(self, work: D) -> BackgroundJob[D]:
        """Record the run and launch its driver before returning (both durable), then follow it.

        Starts of one run id in this process go one at a time: a caller that retries while its first call is
        still launching (a restarted controller) finds the first call's run.
        """
        with self.lock:
            starting = self._starting.setdefault(work.run_id, threading.Lock())
        with starting:
            with self.lock:
                current = self.jobs.get(work.run_id)
            if current is not None and self.same(current.work, work) and current.state in (RUNNING, SUCCEEDED):
                return current
            self._prepare(work)
            return super().start(work)

    def cancel(self, work_id: str) -> BackgroundJob[D]:
        """Stop the run's driver and remove what it staged; a failed run's staging is removed at once."""
        job = self.get(work_id)
        job.work.cancel_event.set()
        if job.finished and job.state != SUCCEEDED:  # no follower any more: clean up here
            job.work.on_cancelled()
            self.records.put(work_id, "result", {"state": CANCELLED})
            job.state = CANCELLED
        return job

    def close(self) -> None:
        """Stop following runs; their drivers go on (a restarted service adopts them)."""
        self.stopping.set()

    def _prepare(self, work: D) -> None:
        doc, etag = self._record(work)
        work.launches = int(doc.get("launches", 0))
        result = self.records.get(work.run_id, "result")
        if result is not None and result.get("state") == SUCCEEDED:
            return
        status = self.ray.status(submission_id(work.run_id, work.launches)) if work.launches else None
        if work.launches and status is None:
            self._submit(work, work.launches)
        elif status is None or status in ("FAILED", "STOPPED"):
            self._launch(work, doc, etag)

    # -- one run ---------------------------------------------------------------------------------
    def _record(self, work: D) -> tuple[dict[str, Any], str]:
        for _ in range(10):
            found = self.records.read(work.run_id)
            if found is not None:
                doc, etag = found
                if doc.get("fingerprint") != work.fingerprint:
                    raise AlreadyExists(
                        f"{self.noun} {work.run_id} exists with another request: use another run id, or the same request"
                    )
                return doc, etag
            doc = {"run_id": work.run_id, "fingerprint": work.fingerprint, "request": work.request, "launches": 0,
                   "created_at": datetime.now(UTC).isoformat()}
            self.records.create(work.run_id, doc)
        raise Unavailable(f"could not read or create the record of {self.noun} {work.run_id}")

    def _launch(self, work: D, doc: dict[str, Any], etag: str) -> tuple[dict[str, Any], str]:
        doc = {**doc, "launches": int(doc.get("launches", 0)) + 1}
        try:
            etag = self.records.replace(work.run_id, doc, etag)
        except ConditionFailed:
            return self._record(work)  # someone else launched one: follow theirs
        self.records.delete(work.run_id, "result")
        self.records.delete(work.run_id, CANCEL_RECORD)
        self._submit(work, doc["launches"])
        return doc, etag

    def _submit(self, work: D, launch: int) -> None:
        """Submit the run's ``launch``-th driver unless Ray has it: a launch is recorded before its Ray job is
        submitted, so a recorded launch that Ray does not know (its launcher died in between, or is still
        submitting) is submitted under the same id, which Ray accepts once; never a new launch beside it."""
        sub = submission_id(work.run_id, launch)
        if self.ray.submit(sub, self.entrypoint(work.run_id), self.env, {"run_id": work.run_id}):
            log.info("%s %s: launched driver %s", self.noun, work.run_id, sub)
        work.launched_here += 1

    def execute(self, work: D) -> None:
        doc, etag = self._record(work)
        work.launches = int(doc.get("launches", 0))
        result = self.records.get(work.run_id, "result")
        if result is not None and result.get("state") == SUCCEEDED:
            self._finish(work, result)
            return
        while not self.stopping.is_set():
            work.launches = int(doc.get("launches", 0))
            sub = submission_id(work.run_id, work.launches) if work.launches else ""
            status = self.ray.status(sub) if sub else None
            if work.resume and not work.cancel_event.is_set():
                if status is None and work.launches:  # recorded but not in Ray: submit that launch
                    self._submit(work, work.launches)
                    continue
                if (status is None or status in ("FAILED", "STOPPED")) and not work.launched_here:
                    doc, etag = self._launch(work, doc, etag)
                    continue
            progress = self.records.get(work.run_id, "progress")
            if progress is not None:
                with work.lock:
                    work.progress = progress
            if work.cancel_event.is_set():
                self._cancel(work, sub)
                return
            if status in ("SUCCEEDED", "FAILED", "STOPPED") or (status is None and not work.resume):
                result = self.records.get(work.run_id, "result")
                if result is None:
                    tail = self._tail(sub) if status else "no driver was launched"
                    raise Unavailable(f"the driver of {self.noun} {work.run_id} ended without a result: {tail}")
                self._finish(work, result)
                return
            work.cancel_event.wait(self.poll_s)  # a cancel is acted on at once

    def _finish(self, work: D, result: dict[str, Any]) -> None:
        with work.lock:
            work.result = result
            if isinstance(result.get("progress"), dict):
                work.progress = result["progress"]
        if result.get("state") != SUCCEEDED:
            raise error_for_code(str(result.get("code") or "INTERNAL"), str(result.get("error", "the driver failed")))

    def _cancel(self, work: D, sub: str) -> None:
        if sub:
            if self.ray.status(sub) not in (None, "SUCCEEDED", "FAILED", "STOPPED"):
                self.records.put(work.run_id, CANCEL_RECORD, {"at": datetime.now(UTC).isoformat()})
                work.before_stop()
                time.sleep(work.stop_grace_s)
            self.ray.stop(sub)
            deadline = time.monotonic() + 60
            while self.ray.status(sub) not in ("SUCCEEDED", "FAILED", "STOPPED", None):
                if time.monotonic() > deadline:
                    raise FailedPrecondition(f"the driver {sub} of {self.noun} {work.run_id} did not stop")
                time.sleep(self.poll_s)
        result = self.records.get(work.run_id, "result")
        if result is not None and result.get("state") == SUCCEEDED:
            # The driver committed before the cancel reached it: a committed version stays, so does the run.
            log.info("%s %s: the cancel came after its driver committed %s", self.noun, work.run_id,
                     result.get("output"))
            work.cancel_event.clear()
            self._finish(work, result)
            return
        work.on_cancelled()
        self.records.put(work.run_id, "result", {"state": CANCELLED})

    def _tail(self, sub: str, lines: int = 12) -> str:
        try:
            return "\n".join(self.ray.logs(sub).splitlines()[-lines:])
        except OctopackError as exc:
            return f"(no logs: {exc.message})"
