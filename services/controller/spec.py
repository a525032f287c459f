"""Job specifications: which stages run, validation with field names, defaults."""

from __future__ import annotations

import re

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import LANGUAGES, STAGE_KINDS, TASKS
from octopack.jobs.v1 import jobs_pb2

K = jobs_pb2.StageKind
S = jobs_pb2.State

TERMINAL = {S.STATE_SUCCEEDED, S.STATE_FAILED, S.STATE_CANCELLED}
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


def selected(spec: jobs_pb2.JobSpec) -> list[int]:
    """The stage kinds a spec selects, in pipeline order."""
    return [kind for name, kind in STAGE_KINDS.items() if spec.HasField(name)]  # type: ignore[arg-type]


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"spec.{field}: {why}")


def _non_negative(msg: object, prefix: str, fields: list[str]) -> None:
    for name in fields:
        if getattr(msg, name) < 0:
            raise _bad(f"{prefix}.{name}", "must be >= 0 (0 picks the default)")


def validate(spec: jobs_pb2.JobSpec, idempotency_key: str = "") -> None:
    """Raise :class:`InvalidArgument` naming the first offending field and how to fix it."""
    kinds = selected(spec)
    if not kinds:
        raise InvalidArgument(
            "spec: select at least one stage by setting one of crawl, filter, train, serve, evaluate"
        )
    if len(idempotency_key) > 256:
        raise InvalidArgument("idempotency_key: at most 256 characters")
    if len(spec.name) > 200:
        raise _bad("name", "at most 200 characters")
    for key, value in spec.labels.items():
        if not _LABEL.match(key) or (value and not _LABEL.match(value)):
            raise _bad(f"labels[{key!r}]", "keys and values must be Kubernetes label syntax ([A-Za-z0-9_.-], <= 63)")
    has = set(kinds)
    if K.STAGE_KIND_CRAWL in has:
        c = spec.crawl
        lists = [bool(c.repositories), bool(c.repositories_file), bool(c.repositories_dataset)]
        if not any(lists):
            raise _bad("crawl.repositories", "give at least one repository (a local path or a git URL), "
                       "or crawl.repositories_file / crawl.repositories_dataset")
        if sum(lists) > 1:
            raise _bad("crawl.repositories", "give only one of repositories, repositories_file, repositories_dataset")
        for i, repo in enumerate(c.repositories):
            if not repo.strip():
                raise _bad(f"crawl.repositories[{i}]", "must not be empty")
        _non_negative(c, "crawl", ["max_commits"])
        if c.profile and c.profile not in ("paper", "improved"):
            raise _bad("crawl.profile", f"unknown data profile {c.profile!r}; use paper or improved")
    if K.STAGE_KIND_FILTER in has:
        f = spec.filter
        if K.STAGE_KIND_CRAWL not in has and not f.input_dataset:
            raise _bad("filter.input_dataset", "required when the job has no crawl stage")
        _non_negative(f, "filter", ["min_tokens", "max_tokens"])
        if f.min_tokens and f.max_tokens and f.min_tokens > f.max_tokens:
            raise _bad("filter.min_tokens", "must not exceed filter.max_tokens")
    if K.STAGE_KIND_TRAIN in has:
        t = spec.train
        if K.STAGE_KIND_FILTER not in has and not t.dataset:
            raise _bad("train.dataset", "required when the job has no filter stage")
        _non_negative(t, "train", ["max_steps", "batch_size", "seq_len", "learning_rate", "lora_r", "num_workers"])
        if t.learning_rate > 1:
            raise _bad("train.learning_rate", "must be at most 1")
    if K.STAGE_KIND_SERVE in has:
        s = spec.serve
        if K.STAGE_KIND_TRAIN not in has and not s.model:
            raise _bad("serve.model", "required when the job has no train stage")
        _non_negative(s, "serve", ["replicas", "max_new_tokens"])
    if K.STAGE_KIND_EVALUATE in has:
        _validate_evaluate(spec.evaluate, K.STAGE_KIND_SERVE in has)
    r = spec.retry
    _non_negative(r, "retry", ["max_attempts", "initial_backoff_seconds", "max_backoff_seconds", "multiplier"])
    if r.max_attempts > 20:
        raise _bad("retry.max_attempts", "at most 20")
    if r.multiplier and r.multiplier < 1:
        raise _bad("retry.multiplier", "must be >= 1 (or 0 for the default 2)")


def _validate_evaluate(e: jobs_pb2.EvaluateConfig, has_serve: bool) -> None:
    if not has_serve and not e.endpoint:
        raise _bad("evaluate.endpoint", "required when the job has no serve stage")
    for i, lang in enumerate(e.languages):
        if lang not in LANGUAGES:
            raise _bad(f"evaluate.languages[{i}]", f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    if e.task and e.task not in TASKS:
        raise _bad("evaluate.task", f"unknown task {e.task!r}; use one of {', '.join(TASKS)}")
    if not 0 <= e.limit <= 164:
        raise _bad("evaluate.limit", "must be between 0 (all 164 problems) and 164")
    _non_negative(e, "evaluate", ["samples", "max_new_tokens"])
    if not 0 <= e.temperature <= 2:
        raise _bad("evaluate.temperature", "must be between 0 (greedy) and 2")
    if e.scoring and e.scoring not in ("harness", "corrected"):
        raise _bad("evaluate.scoring", f"unknown scoring {e.scoring!r}; use harness or corrected")


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
