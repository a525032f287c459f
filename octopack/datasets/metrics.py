"""Prometheus metrics of the dataset store (served on the service's ``metrics_port``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

COMMITS = Counter("octopack_datasets_commits_total", "Dataset versions committed.")
ROWS_WRITTEN = Counter("octopack_datasets_rows_written_total", "Rows in committed versions.")
SHARDS_WRITTEN = Counter("octopack_datasets_shards_written_total", "Shards uploaded (committed or not).")
BYTES_WRITTEN = Counter("octopack_datasets_bytes_written_total", "Bytes of shards uploaded.")
SHARDS_READ = Counter("octopack_datasets_shards_read_total", "Shards downloaded and checked.")
SHARD_FAILURES = Counter(
    "octopack_datasets_shard_failures_total", "Shards found missing or corrupt on read.", ["reason"]
)
OPEN_WRITERS = Gauge("octopack_datasets_open_writers", "Writers open in this service.")
