"""The background-run registry shared by the crawler and the filter services: idempotent by run id."""

from __future__ import annotations

import threading
import time

import pytest

from octopack.common.background import CANCELLED, FAILED, SUCCEEDED, BackgroundRuns
from octopack.common.errors import AlreadyExists, InvalidArgument, NotFound


class Work:
    def __init__(self, name: str, fail: Exception | None = None, request: str = "r") -> None:
        self.name = name
        self.request = request
        self.fail = fail
        self.cancel_event = threading.Event()
        self.release = threading.Event()
        self.steps = 0


class Runs(BackgroundRuns[Work]):
    noun = "thing"
    list_rpc = "ListThings"

    def work_id(self, work: Work) -> str:
        return work.name

    def same(self, current: Work, new: Work) -> bool:
        return current.request == new.request

    def execute(self, work: Work) -> None:
        while not work.release.wait(0.01):
            if work.cancel_event.is_set():
                return
        work.steps += 1
        if work.fail is not None:
            raise work.fail

    def observe(self, job) -> int:
        return job.work.steps


def _wait(job) -> None:
    deadline = time.monotonic() + 10
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.finished


def test_runs_succeed_fail_and_cancel() -> None:
    runs = Runs()
    ok, bad, boom, stopped = Work("ok"), Work("bad", InvalidArgument("no")), Work("boom", RuntimeError("x")), Work("c")
    for work in (ok, bad, boom, stopped):
        runs.start(work)
    for work in (ok, bad, boom):
        work.release.set()
    runs.cancel("c")
    for name in ("ok", "bad", "boom", "c"):
        _wait(runs.get(name))
    assert runs.get("ok").state == SUCCEEDED
    assert (runs.get("bad").state, runs.get("bad").error) == (FAILED, "no")
    assert runs.get("boom").state == FAILED and runs.get("boom").error.startswith("internal error")
    assert runs.get("c").state == CANCELLED
    assert {j.work.name for j in runs.list()} == {"ok", "bad", "boom", "c"}


def test_the_same_run_id_returns_the_run_and_a_failed_one_starts_again() -> None:
    runs = Runs()
    first = Work("same")
    job = runs.start(first)
    assert runs.start(Work("same")) is job  # running: the same run, not a second one
    with pytest.raises(AlreadyExists, match="thing same exists with another request"):
        runs.start(Work("same", request="other"))
    first.release.set()
    _wait(job)
    assert runs.start(Work("same")) is job  # succeeded: read back, not run again
    failing = Work("f", InvalidArgument("no"))
    failing.release.set()
    failed = runs.start(failing)
    _wait(failed)
    again = Work("f")
    again.release.set()
    retried = runs.start(again)  # failed: started again
    assert retried is not failed
    _wait(retried)
    assert retried.state == SUCCEEDED
    with pytest.raises(NotFound, match="ListThings"):
        runs.get("other")
    runs.close()


async def test_watch_yields_changes_then_the_end() -> None:
    runs = Runs()
    work = Work("w")
    runs.start(work)
    seen = []
    async for job in runs.watch("w", interval=0.01):
        seen.append(job.state)
        work.release.set()
    assert seen[0] == "running" and seen[-1] == SUCCEEDED
