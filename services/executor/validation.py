"""What the executor accepts at the edge: sizes of programs and batches (from its settings).

The executor checks the rest itself before admitting a program (language served, limits within
their maxima, source size in UTF-8 bytes); here every field is bounded before that, so a NaN
limit, an unknown language number or a batch of a million programs never reaches it.
"""

from __future__ import annotations

from octopack.common.validation import Rules, items, number, text
from octopack.services.executor.settings import ExecutorSettings

P = "octopack.executor.v1."


def rules(settings: ExecutorSettings) -> Rules:
    """The executor's rules; source and test are code (every character allowed), capped like the executor."""
    code = text(settings.max_source_bytes, raw=True)
    limits = {f"{P}Limits.{name}": number(0) for name in (
        "timeout_seconds", "cpu_seconds", "memory_bytes", "max_processes", "max_file_bytes", "max_open_files",
        "max_output_bytes", "compile_timeout_seconds", "max_disk_bytes")}
    return Rules(fields={
        P + "Program.source": code,
        P + "Program.test": code,
        P + "Program.id": text(256),
        P + "ExecuteBatchRequest.programs": items(settings.max_batch),
        **limits,
    })
