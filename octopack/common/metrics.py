"""Prometheus metrics: per-RPC counters and latencies, plus helpers for service gauges."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_TOTAL = Counter(
    "octopack_grpc_requests_total", "RPCs handled, by method and status code.", ["method", "code"]
)
RPC_SECONDS = Histogram(
    "octopack_grpc_request_seconds",
    "RPC latency, by method.",
    ["method"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, float("inf")),
)
RPC_IN_FLIGHT = Gauge("octopack_grpc_in_flight", "RPCs being handled, by method.", ["method"])

_started: set[int] = set()


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics on ``port`` once per process (0 turns it off)."""
    if port and port not in _started:
        start_http_server(port, addr=host)
        _started.add(port)
