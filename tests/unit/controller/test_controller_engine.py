"""The controller's engine with an in-memory store and scripted stage runners (no servers)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from octopack.common.errors import AlreadyExists, InvalidArgument, NotFound
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import Backend, StageContext
from octopack.services.controller.engine import Controller
from octopack.services.controller.store import MemoryStore

S = jobs_pb2.State
K = jobs_pb2.StageKind


class Scripted:
    """A stage runner whose behaviour per attempt is scripted; counts its calls."""

    def __init__(self, failures: int = 0, error: type[Exception] = RuntimeError, block: bool = False) -> None:
        self.failures = failures
        self.error = error
        self.block = block
        self.calls: Counter[str] = Counter()
        self.run_ids: list[str] = []
        self.started = asyncio.Event()

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        self.calls[ctx.job_id] += 1
        self.run_ids.append(ctx.run_id)
        self.started.set()
        ctx.report(0.5, "half way")
        if self.block:
            await asyncio.Event().wait()
        if self.calls[ctx.job_id] <= self.failures:
            raise self.error(f"scripted failure {self.calls[ctx.job_id]}")
        name = ctx.output_name()
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version="v1")], details={"input": ctx.inputs.get("dataset", "")}
        )


def _backend(crawl: Scripted, filt: Scripted) -> Backend:
    return Backend({K.STAGE_KIND_CRAWL: crawl, K.STAGE_KIND_FILTER: filt})


def _spec(**retry: float) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(
        crawl=jobs_pb2.CrawlConfig(repositories=["repo"]),
        filter=jobs_pb2.FilterConfig(),
        retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=0.01, **retry),  # type: ignore[arg-type]
    )


async def _wait_final(ctl: Controller, job_id: str) -> jobs_pb2.Job:
    async for event in ctl.watch(job_id):
        last = event.job
    return last


async def _controller(store: MemoryStore, backend: Backend) -> Controller:
    ctl = Controller(store, backend)
    await ctl.start()
    return ctl


async def test_stages_run_in_order_and_pass_outputs_on() -> None:
    crawl, filt = Scripted(), Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, filt))
    job, created = await ctl.submit(_spec())
    assert created and job.id.startswith("job-")
    final = await _wait_final(ctl, job.id)
    assert final.state == S.STATE_SUCCEEDED
    assert [st.state for st in final.stages] == [S.STATE_SUCCEEDED, S.STATE_SUCCEEDED]
    assert final.stages[1].outputs.details["input"] == f"{job.id}-crawl@v1"
    assert final.stages[0].HasField("start_time") and final.stages[0].HasField("end_time")
    assert final.HasField("end_time") and final.end_time.ToNanoseconds() >= final.create_time.ToNanoseconds()
    await ctl.stop()


async def test_retries_with_backoff_then_succeeds() -> None:
    crawl, filt = Scripted(failures=2), Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, filt))
    job, _ = await ctl.submit(_spec(max_attempts=3))
    final = await _wait_final(ctl, job.id)
    assert final.state == S.STATE_SUCCEEDED
    assert final.stages[0].attempts == 3
    assert crawl.run_ids == [f"{job.id}-crawl-{n}" for n in (1, 2, 3)]  # each attempt its own run
    assert crawl.calls[job.id] == 3
    await ctl.stop()


async def test_out_of_attempts_fails_and_skips_later_stages() -> None:
    crawl, filt = Scripted(failures=5), Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, filt))
    job, _ = await ctl.submit(_spec(max_attempts=2))
    final = await _wait_final(ctl, job.id)
    assert final.state == S.STATE_FAILED
    assert final.stages[0].state == S.STATE_FAILED and final.stages[0].attempts == 2
    assert "scripted failure 2" in final.stages[0].message
    assert final.stages[1].state == S.STATE_CANCELLED
    assert filt.calls[job.id] == 0
    await ctl.stop()


async def test_permanent_error_is_not_retried() -> None:
    crawl, filt = Scripted(failures=1, error=InvalidArgument), Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, filt))
    job, _ = await ctl.submit(_spec(max_attempts=5))
    final = await _wait_final(ctl, job.id)
    assert final.state == S.STATE_FAILED and crawl.calls[job.id] == 1
    await ctl.stop()


async def test_cancel_stops_a_running_stage() -> None:
    crawl, filt = Scripted(block=True), Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, filt))
    job, _ = await ctl.submit(_spec())
    await crawl.started.wait()
    cancelled = await ctl.cancel(job.id)
    assert cancelled.state == S.STATE_CANCELLED and cancelled.cancel_requested
    assert [st.state for st in cancelled.stages] == [S.STATE_CANCELLED, S.STATE_CANCELLED]
    assert (await ctl.cancel(job.id)).state == S.STATE_CANCELLED  # cancelling twice is harmless
    await ctl.stop()


async def test_restart_resumes_without_rerunning_finished_stages() -> None:
    store = MemoryStore()
    crawl, filt = Scripted(), Scripted(block=True)
    first = await _controller(store, _backend(crawl, filt))
    job, _ = await first.submit(_spec())
    await filt.started.wait()
    await first.stop()  # like a crash: the stored document says filter is running
    assert store.get(job.id).job.stages[1].state == S.STATE_RUNNING  # type: ignore[union-attr]

    crawl2, filt2 = Scripted(), Scripted()
    second = await _controller(store, _backend(crawl2, filt2))
    final = await _wait_final(second, job.id)
    assert final.state == S.STATE_SUCCEEDED
    assert crawl2.calls[job.id] == 0, "a finished stage ran again"
    assert filt2.calls[job.id] == 1
    # The interrupted attempt goes on: the same attempt number, so the same run id to adopt.
    assert final.stages[0].attempts == 1 and final.stages[1].attempts == 1
    assert filt.run_ids == filt2.run_ids == [f"{job.id}-filter-1"]
    assert final.stages[1].message == "done"
    await second.stop()


async def test_idempotency_key_returns_the_first_job() -> None:
    ctl = await _controller(MemoryStore(), _backend(Scripted(), Scripted()))
    first, created = await ctl.submit(_spec(), "nightly-2024-01-01")
    again, created_again = await ctl.submit(_spec(), "nightly-2024-01-01")
    assert created and not created_again and again.id == first.id
    other, _ = await ctl.submit(_spec(), "nightly-2024-01-02")
    assert other.id != first.id
    await ctl.stop()


async def test_idempotency_key_with_another_spec_names_the_existing_job() -> None:
    ctl = await _controller(MemoryStore(), _backend(Scripted(), Scripted()))
    first, _ = await ctl.submit(_spec(), "nightly-2024-01-01")
    with pytest.raises(AlreadyExists, match=f"already created job {first.id} with a different spec"):
        await ctl.submit(_spec(max_attempts=9), "nightly-2024-01-01")
    assert [job.id for job in (await ctl.list([], 0, ""))[0]] == [first.id]
    await ctl.stop()


async def test_unknown_job_and_bad_token() -> None:
    ctl = await _controller(MemoryStore(), _backend(Scripted(), Scripted()))
    with pytest.raises(NotFound, match="job-000000000000"):
        await ctl.get("job-000000000000")
    with pytest.raises(InvalidArgument, match="job_id"):
        await ctl.get("")
    with pytest.raises(InvalidArgument, match="page_token"):
        await ctl.list([], 10, "garbage!")
    await ctl.stop()


async def test_list_pages_and_filters_by_state() -> None:
    clock = iter(range(1_000_000, 2_000_000))
    ctl = Controller(MemoryStore(), _backend(Scripted(block=True), Scripted()), max_running_jobs=1,
                     clock=lambda: float(next(clock)))
    await ctl.start()
    ids = [(await ctl.submit(_spec()))[0].id for _ in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        page, token = await ctl.list([], 3, token)
        seen += [j.id for j in page]
        if not token:
            break
    assert seen == list(reversed(ids))
    running, _ = await ctl.list([S.STATE_RUNNING], 0, "")
    pending, _ = await ctl.list([S.STATE_PENDING], 0, "")
    assert len(running) == 1 and len(pending) == 6  # one slot: the others wait
    await ctl.stop()


async def test_watch_reports_progress_and_ends_on_final_state() -> None:
    ctl = await _controller(MemoryStore(), _backend(Scripted(), Scripted()))
    job, _ = await ctl.submit(_spec())
    events = [event async for event in ctl.watch(job.id)]
    assert events[0].type == jobs_pb2.EVENT_TYPE_SNAPSHOT
    assert events[0].job.state == S.STATE_PENDING
    assert events[-1].job.state == S.STATE_SUCCEEDED
    progress = [e for e in events if e.type == jobs_pb2.EVENT_TYPE_PROGRESS]
    assert [e.stage for e in progress] == [K.STAGE_KIND_CRAWL, K.STAGE_KIND_FILTER]
    assert all(e.message == "half way" and e.job.stages[0].progress in (0.5, 1.0) for e in progress)
    await ctl.stop()


async def test_racing_submissions_with_one_key_create_one_job() -> None:
    crawl = Scripted()
    ctl = await _controller(MemoryStore(), _backend(crawl, Scripted()))
    replies = await asyncio.gather(*(ctl.submit(_spec(), "same-key") for _ in range(8)))
    assert sum(created for _, created in replies) == 1
    assert len({job.id for job, _ in replies}) == 1
    await _wait_final(ctl, replies[0][0].id)
    assert crawl.calls[replies[0][0].id] == 1
    await ctl.stop()


async def test_cancel_of_a_finished_job_only_removes_a_kept_endpoint() -> None:
    cleaned: list[tuple[str, bool]] = []

    class Recording(Backend):
        async def cleanup(self, job: jobs_pb2.Job) -> None:
            cleaned.append((job.id, job.cancel_requested))

    runners = {K.STAGE_KIND_CRAWL: Scripted(), K.STAGE_KIND_FILTER: Scripted(), K.STAGE_KIND_SERVE: Scripted()}
    ctl = await _controller(MemoryStore(), Recording(runners))  # type: ignore[arg-type]
    spec = _spec()
    spec.serve.keep = True
    spec.serve.model = "m@v1"
    job, _ = await ctl.submit(spec)
    final = await _wait_final(ctl, job.id)
    assert final.state == S.STATE_SUCCEEDED and cleaned == [(job.id, False)]
    again = await ctl.cancel(job.id)
    assert again.state == S.STATE_SUCCEEDED and not again.cancel_requested
    assert cleaned == [(job.id, False), (job.id, True)]
    await ctl.stop()
