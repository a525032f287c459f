"""The outputs document a stage run outside the controller leaves in S3 (a Kubernetes pod, a Ray job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import json_format

from octopack.jobs.v1 import jobs_pb2

OutputsReader = Callable[[str, str], jobs_pb2.StageOutputs | None]


def outputs_key(prefix: str, job_id: str, stage: str) -> str:
    return f"{prefix}{job_id}/outputs/{stage}.json"


def s3_outputs_reader(store: Any, prefix: str) -> OutputsReader:
    """Reads the outputs documents stage pods write (see ``octopack stage``)."""
    from octopack.common.errors import NotFound

    def read(job_id: str, stage: str) -> jobs_pb2.StageOutputs | None:
        try:
            data = store.get(outputs_key(prefix, job_id, stage))
        except NotFound:
            return None
        return json_format.Parse(data.decode(), jobs_pb2.StageOutputs(), ignore_unknown_fields=True)

    return read
