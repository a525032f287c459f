"""What a backend is: one runner per stage kind plus clean-up of a job's resources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from octopack.common.vocabulary import stage_name
from octopack.jobs.v1 import jobs_pb2

Report = Callable[[float, str], None]
Save = Callable[[dict[str, str]], Awaitable[None]]


async def _discard(entries: dict[str, str]) -> None:
    return None


@dataclass
class StageContext:
    """Everything one attempt of one stage needs.

    ``inputs`` holds what earlier stages produced or the spec named: ``dataset``
    (``name@version``), ``model`` (a URI) and ``endpoint`` (``host:port``).
    Runners must be idempotent by job id: they name their outputs with
    :meth:`output_name` and, when a previous attempt already produced them,
    return those instead of producing them again; work they hand to a service
    or to Ray is named :attr:`run_id`, so the same attempt after a controller
    restart adopts it. ``state`` is what earlier
    attempts recorded with ``save``, which merges entries into the stage's
    ``outputs.details`` in the job document (stored before it returns), so a
    retry, a restarted controller and :meth:`Backend.cleanup` see them.
    """

    job_id: str
    kind: int
    spec: jobs_pb2.JobSpec
    attempt: int
    inputs: dict[str, str] = field(default_factory=dict)
    report: Report = lambda progress, message: None
    state: dict[str, str] = field(default_factory=dict)
    save: Save = _discard

    @property
    def stage(self) -> str:
        return stage_name(self.kind)

    def output_name(self) -> str:
        """Deterministic name of what this stage produces, e.g. ``job-1a2b3c4d5e6f-crawl``."""
        return f"{self.job_id}-{self.stage}"

    @property
    def run_id(self) -> str:
        """The id of this attempt's work in a service or on Ray, e.g. ``job-1a2b3c4d5e6f-crawl-1``.

        It is stored in the job document (the attempt number) before the work starts, so a restarted
        controller asks for the same run and adopts it instead of starting it again.
        """
        return run_id(self.job_id, self.stage, self.attempt)


def run_id(job_id: str, stage: str, attempt: int) -> str:
    return f"{job_id}-{stage}-{attempt}"


def attempt_run_ids(job: jobs_pb2.Job, kind: int) -> list[tuple[str, bool]]:
    """Run ids of every attempt of the ``kind`` stage, each with whether its outputs are the stage's."""
    out = []
    for st in job.stages:
        if st.kind == kind:
            for attempt in range(1, st.attempts + 1):
                kept = st.state == jobs_pb2.STATE_SUCCEEDED and attempt == st.attempts
                out.append((run_id(job.id, stage_name(kind), attempt), kept))
    return out


class StageRunner(Protocol):
    """Runs one stage kind. An error with a permanent status code
    (:data:`~octopack.common.errors.PERMANENT_CODES`: bad, missing or refused input) fails the stage at
    once, whether raised as an :class:`~octopack.common.errors.OctopackError` or a failed gRPC call;
    any other exception is retried."""

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs: ...


class Backend:
    """A set of stage runners and the clean-up of what they leave behind."""

    name = "base"

    def __init__(self, runners: dict[int, StageRunner]) -> None:
        self.runners = runners

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        runner = self.runners.get(ctx.kind)
        if runner is None:
            from octopack.common.errors import FailedPrecondition

            raise FailedPrecondition(f"the {self.name} backend cannot run {ctx.stage} stages")
        return await runner.run(ctx)

    async def cleanup(self, job: jobs_pb2.Job) -> None:
        """Release what the job's stages hold once it ended (succeeded, failed or cancelled)."""
        return None

    async def close(self) -> None:
        """Release clients when the controller stops."""
        return None


def resolve_inputs(job: jobs_pb2.Job, kind: int) -> dict[str, str]:
    """Inputs of ``kind``: explicit spec fields win, else the outputs of the earlier stages."""
    done: dict[int, jobs_pb2.StageOutputs] = {
        int(st.kind): st.outputs for st in job.stages if st.state == jobs_pb2.STATE_SUCCEEDED
    }
    K = jobs_pb2.StageKind
    spec = job.spec
    inputs: dict[str, str] = {}

    def dataset_of(k: int) -> str:
        out = done.get(k)
        if out is None or not out.datasets:
            return ""
        ref = out.datasets[0]
        return f"{ref.name}@{ref.version}" if ref.version else ref.name

    if kind == K.STAGE_KIND_FILTER:
        inputs["dataset"] = spec.filter.input_dataset or dataset_of(K.STAGE_KIND_CRAWL)
    elif kind == K.STAGE_KIND_TRAIN:
        inputs["dataset"] = spec.train.dataset or dataset_of(K.STAGE_KIND_FILTER)
        filtered = done.get(K.STAGE_KIND_FILTER)
        few = filtered is not None and filtered.datasets and filtered.datasets[0].samples < spec.train.min_samples
        if not spec.train.dataset and few and dataset_of(K.STAGE_KIND_CRAWL):
            # A young repository has few commits that pass every CommitPackFT rule.
            inputs["dataset"] = dataset_of(K.STAGE_KIND_CRAWL)
            inputs["fallback"] = "crawl"

    elif kind == K.STAGE_KIND_SERVE:
        model = done.get(K.STAGE_KIND_TRAIN)
        inputs["model"] = spec.serve.model or (model.model.uri if model is not None else "")
    elif kind == K.STAGE_KIND_EVALUATE:
        serve = done.get(K.STAGE_KIND_SERVE)
        inputs["endpoint"] = spec.evaluate.endpoint or (serve.endpoint if serve is not None else "")
    return inputs
