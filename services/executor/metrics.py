"""Prometheus gauges and counters of the executor (queue depth and running programs drive autoscaling)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

QUEUE_DEPTH = Gauge("octopack_executor_queue_depth", "Programs admitted and waiting for a slot.")
RUNNING = Gauge("octopack_executor_running", "Programs running in the sandbox now.")
RESULTS = Counter(
    "octopack_executor_results_total", "Programs finished, by language and status.", ["language", "status"]
)
