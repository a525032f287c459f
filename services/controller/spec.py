"""Job specifications: which stages run, validation with field names, defaults."""

from __future__ import annotations

from octopack.common.vocabulary import STAGE_KINDS
from octopack.jobs.v1 import jobs_pb2

K = jobs_pb2.StageKind
S = jobs_pb2.State

TERMINAL = {S.STATE_SUCCEEDED, S.STATE_FAILED, S.STATE_CANCELLED}


def selected(spec: jobs_pb2.JobSpec) -> list[int]:
    """The stage kinds a spec selects, in pipeline order."""
    return [kind for name, kind in STAGE_KINDS.items() if spec.HasField(name)]  # type: ignore[arg-type]


def validate(spec: jobs_pb2.JobSpec, idempotency_key: str = "") -> None:
    """Raise :class:`InvalidArgument` naming the first offending field and how to fix it (the rules of
    :mod:`~octopack.services.controller.validation`, which the server also applies to every request)."""
    from octopack.services.controller.validation import RULES

    RULES.check(jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key=idempotency_key))


def retry_policy(spec: jobs_pb2.JobSpec) -> tuple[int, float, float, float]:
    """(max_attempts, initial, max back-off seconds, multiplier) with defaults filled in."""
    r = spec.retry
    return (
        r.max_attempts or 3,
        r.initial_backoff_seconds or 1.0,
        r.max_backoff_seconds or 60.0,
        r.multiplier or 2.0,
    )


def backoff(spec: jobs_pb2.JobSpec, failed_attempts: int) -> float:
    """Seconds to wait after ``failed_attempts`` failures (1 -> initial, 2 -> initial*multiplier, ...)."""
    _, initial, cap, multiplier = retry_policy(spec)
    return float(min(cap, initial * multiplier ** max(0, failed_attempts - 1)))
