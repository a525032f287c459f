"""Drives one job through its stages: attempts, retries with exponential back-off, cancellation.

Invariants that make a restart exact:
- a stage's outputs are written in the same document write that marks it succeeded, so a succeeded
  stage is never run again;
- an attempt's number is stored (the stage ``running``) before its work starts, and the work is named by
  a run id derived from the job, the stage and that number (``<job>-<stage>-<attempt>``); a stage found
  ``running`` after a restart goes on with the same attempt, so its runner asks for the same run and
  adopts it (running in a service or on Ray, or finished) instead of starting it again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from octopack.common.errors import OctopackError, is_permanent
from octopack.common.vocabulary import stage_name
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller import spec as specs
from octopack.services.controller.backends.base import Save, StageContext, resolve_inputs
from octopack.services.controller.engine import Controller, Entry, JobLost
from octopack.services.controller.metrics import JOBS_FINISHED, STAGE_ATTEMPTS, STAGE_SECONDS

log = logging.getLogger(__name__)
S = jobs_pb2.State


def _stamp(ts: object, seconds: float) -> None:
    ts.FromNanoseconds(int(seconds * 1e9))  # type: ignore[attr-defined]


async def run_job(ctl: Controller, entry: Entry) -> None:
    """Run the job's unfinished stages in order; mark the job finished."""
    try:
        async with ctl.slots:
            for index in range(len(entry.job.stages)):
                if entry.job.stages[index].state == S.STATE_SUCCEEDED:
                    continue  # finished before a restart: never run twice
                if not await _run_stage(ctl, entry, index):
                    return
            await _finish(ctl, entry, S.STATE_SUCCEEDED, "")
    except asyncio.CancelledError:
        if entry.job.cancel_requested and not entry.lost:
            await finish_cancelled(ctl, entry)
            return
        raise  # controller shutdown: leave the document as it is, a restart resumes
    except JobLost:
        return


async def _run_stage(ctl: Controller, entry: Entry, index: int) -> bool:
    """Attempt stage ``index`` until it succeeds (True) or fails for good (False)."""
    max_attempts = specs.retry_policy(entry.job.spec)[0]
    # Found running: a restart interrupted this attempt, whose work goes on under its run id.
    resumed = entry.job.stages[index].state == S.STATE_RUNNING and entry.job.stages[index].attempts > 0
    while True:
        stage = entry.job.stages[index]
        wait = stage.next_attempt_time.ToNanoseconds() / 1e9 - ctl.now() if stage.HasField("next_attempt_time") else 0
        if wait > 0:
            await asyncio.sleep(wait)
        kind = stage.kind
        name = stage_name(kind)

        def begin(job: jobs_pb2.Job, resumed: bool = resumed) -> None:
            st = job.stages[index]
            st.state = S.STATE_RUNNING
            if resumed:
                st.message = f"attempt {st.attempts} resumed"
            else:
                st.attempts += 1
                st.progress = 0.0
                st.message = f"attempt {st.attempts}"
            st.ClearField("next_attempt_time")
            if not st.HasField("start_time"):
                _stamp(st.start_time, ctl.now())
            job.state = S.STATE_RUNNING

        await ctl.commit(entry, begin, kind, f"{name} {'resumed' if resumed else 'started'}")
        resumed = False
        attempt = entry.job.stages[index].attempts
        ctx = StageContext(
            job_id=entry.job.id,
            kind=kind,
            spec=entry.job.spec,
            attempt=attempt,
            inputs=resolve_inputs(entry.job, kind),
            report=_reporter(ctl, entry, index),
            state=dict(entry.job.stages[index].outputs.details),
            save=_saver(ctl, entry, index),
        )
        started = time.monotonic()
        try:
            outputs = await ctl.backend.run(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every stage error is recorded on the job, retried or final
            message = _message(exc)
            # A permanent code (bad input, missing input, refused) fails the same way every time.
            permanent = is_permanent(exc)
            STAGE_ATTEMPTS.labels(name, "error").inc()
            log.warning("job %s %s attempt %d failed: %s", entry.job.id, name, attempt, message,
                        exc_info=not isinstance(exc, OctopackError))
            if permanent or attempt >= max_attempts:
                await _fail(ctl, entry, index, message, permanent)
                return False
            delay = specs.backoff(entry.job.spec, attempt)

            def retry(job: jobs_pb2.Job, message: str = message, delay: float = delay) -> None:
                st = job.stages[index]
                st.state = S.STATE_PENDING
                st.message = f"attempt {st.attempts} failed: {message}; retrying in {delay:.1f}s"
                _stamp(st.next_attempt_time, ctl.now() + delay)

            await ctl.commit(entry, retry, kind, f"{name} failed, retrying")
            continue
        STAGE_ATTEMPTS.labels(name, "ok").inc()
        STAGE_SECONDS.labels(name).observe(time.monotonic() - started)

        def succeed(job: jobs_pb2.Job, outputs: jobs_pb2.StageOutputs = outputs) -> None:
            st = job.stages[index]
            saved = dict(st.outputs.details)  # what the attempts recorded (clean-up still needs it)
            st.outputs.CopyFrom(outputs)
            for key, value in saved.items():
                if key not in st.outputs.details:
                    st.outputs.details[key] = value
            st.state = S.STATE_SUCCEEDED
            st.progress = 1.0
            st.message = "done"
            _stamp(st.end_time, ctl.now())

        await ctl.commit(entry, succeed, kind, f"{name} succeeded")
        return True


def _message(exc: BaseException) -> str:
    """What the stage records of a failed attempt: the error's own message, or its type and text."""
    if isinstance(exc, OctopackError):
        return exc.message
    details = getattr(exc, "details", None)
    if callable(details):  # a failed gRPC call: its status and message, not the repr of the call
        code = getattr(exc, "code", None)
        name = getattr(code(), "name", "") if callable(code) else ""
        return f"{name}: {details()}" if name else str(details())
    return f"{type(exc).__name__}: {exc}"


def _saver(ctl: Controller, entry: Entry, index: int) -> Save:
    """Stores entries in the running stage's outputs.details (see StageContext.save)."""

    async def save(entries: dict[str, str]) -> None:
        def merge(job: jobs_pb2.Job) -> None:
            job.stages[index].outputs.details.update(entries)

        stage = entry.job.stages[index]
        await ctl.commit(entry, merge, stage.kind, f"{stage_name(stage.kind)} recorded its state")

    return save


def _reporter(ctl: Controller, entry: Entry, index: int):  # type: ignore[no-untyped-def]
    """A progress callback safe to call from the event loop or from worker threads."""
    loop = asyncio.get_running_loop()

    def apply(progress: float, message: str) -> None:
        stage = entry.job.stages[index]
        if stage.state != S.STATE_RUNNING:
            return
        # Progress is published to watchers but not stored: it is rebuilt by the next attempt.
        stage.progress = max(0.0, min(1.0, progress))
        stage.message = message
        ctl.publish(entry, jobs_pb2.EVENT_TYPE_PROGRESS, stage.kind, message)

    def report(progress: float, message: str) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            apply(progress, message)
        else:
            loop.call_soon_threadsafe(apply, progress, message)

    return report


async def _fail(ctl: Controller, entry: Entry, index: int, message: str, permanent: bool) -> None:
    name = stage_name(entry.job.stages[index].kind)

    def fail(job: jobs_pb2.Job) -> None:
        st = job.stages[index]
        st.state = S.STATE_FAILED
        st.message = message if permanent else f"failed after {st.attempts} attempts: {message}"
        _stamp(st.end_time, ctl.now())
        for later in job.stages[index + 1 :]:
            later.state = S.STATE_CANCELLED
            later.message = f"not run: stage {name} failed"

    await ctl.commit(entry, fail, entry.job.stages[index].kind, f"{name} failed")
    await _finish(ctl, entry, S.STATE_FAILED, f"stage {name} failed: {message}")


async def _finish(ctl: Controller, entry: Entry, state: int, message: str) -> None:
    try:
        await ctl.backend.cleanup(entry.job)
    except Exception:  # clean-up is best effort; the job's outcome stands
        log.exception("clean-up of job %s failed", entry.job.id)

    def done(job: jobs_pb2.Job) -> None:
        job.state = state  # type: ignore[assignment]
        _stamp(job.end_time, ctl.now())

    state_name = S.Name(state)  # type: ignore[arg-type]
    await ctl.commit(entry, done, 0, message or "job " + state_name.removeprefix("STATE_").lower())
    JOBS_FINISHED.labels(state_name).inc()


async def finish_cancelled(ctl: Controller, entry: Entry) -> None:
    """Mark every unfinished stage and the job cancelled, then release the job's resources."""

    def cancel(job: jobs_pb2.Job) -> None:
        for st in job.stages:
            if st.state not in specs.TERMINAL:
                st.state = S.STATE_CANCELLED
                st.message = "cancelled"
                st.ClearField("next_attempt_time")
                if st.HasField("start_time"):
                    _stamp(st.end_time, ctl.now())

    await ctl.commit(entry, cancel, 0, "stages cancelled")
    await _finish(ctl, entry, S.STATE_CANCELLED, "job cancelled")
