"""Run a stage's heavy work as a child process: the controller stays light, cancel kills the group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


async def run_module(
    module: str,
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``python -m module args``; its last stdout line is a JSON result. Stderr goes to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, **env},
            start_new_session=True,
        )
        last = ""
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    last = line
                    if on_line is not None:
                        on_line(line)
            code = await proc.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
    if code != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{module} exited with {code}; log {log_path}:\n" + "\n".join(tail))
    try:
        result = json.loads(last)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{module} printed no JSON result (last line: {last[:200]!r})") from exc
    return result if isinstance(result, dict) else {"result": result}
