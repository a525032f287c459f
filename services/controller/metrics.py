"""Prometheus metrics of the controller."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOBS_SUBMITTED = Counter("octopack_controller_jobs_submitted_total", "Jobs created (idempotent repeats excluded).")
JOBS_FINISHED = Counter("octopack_controller_jobs_finished_total", "Jobs that reached a final state.", ["state"])
STAGE_ATTEMPTS = Counter(
    "octopack_controller_stage_attempts_total", "Stage attempts, by stage and outcome.", ["stage", "outcome"]
)
STAGE_SECONDS = Histogram(
    "octopack_controller_stage_seconds",
    "Duration of successful stage attempts.",
    ["stage"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 14400, float("inf")),
)
