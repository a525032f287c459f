"""The one sandbox primitive every language runs through.

A step is one command (compile or run). Each step gets:

- its own session and process group (``setsid``), so a timeout or an output cap kills the whole
  group and nothing the program does reaches the server's group or session;
- resource limits set in the child before the program starts (``prlimit``: CPU seconds, address
  space, processes, file size, open files, no core dumps);
- a wall-clock timeout measured by the server;
- stdout and stderr read incrementally, each capped; past the cap the group is killed;
- a scrubbed environment (exactly what the caller passes, nothing of the server's);
- when the platform allows, a fresh network namespace with only a down loopback (``unshare -n``);
- when the server runs as root, an unprivileged uid (``setpriv``): the program cannot write outside
  its work directory, and after the step every process left under that uid is killed, which also
  catches processes that left the group with ``setsid``.

The command line is a chain of small exec wrappers from util-linux
(``unshare -n -- setpriv ... -- prlimit ... -- program``) rather than a ``preexec_fn``, which is
unsafe in a threaded server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from octopack.common.errors import FailedPrecondition
from octopack.services.executor.model import StepOutcome

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
#: After the program exits, its pipes get this long to drain.
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class Step:
    """One command to run in the sandbox."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    timeout: float
    cpu_seconds: float
    memory_bytes: int  # 0: no address-space limit
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    max_output_bytes: int
    #: Run as this uid/gid when the server is root (None: stay as the server's user).
    uid: int | None = None
    gid: int | None = None
    #: Kill every process of ``uid`` after the step (only for uids that one program owns).
    sweep: bool = False


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Sandbox:
    """Runs :class:`Step` s. Construct once per server: it probes what the platform allows."""

    def __init__(self, network: Literal["auto", "required", "off"] = "auto") -> None:
        self.is_root = os.geteuid() == 0
        self.drops_privileges = self.is_root and shutil.which("setpriv") is not None
        self._net_prefix: list[str] = []
        if network != "off" and shutil.which("unshare"):
            # No PID namespace: the program would be its init, which changes signal semantics
            # (a raise(SIGABRT) of its own is ignored); the uid sweep does the cleanup instead.
            candidates = [["unshare", "-n"]] if self.is_root else [["unshare", "-r", "-n"]]
            for prefix in candidates:
                if _works([*prefix, "true"]):
                    self._net_prefix = prefix
                    break
        if network == "required" and not self._net_prefix:
            raise FailedPrecondition(
                "network isolation is required but no network namespace can be created here: "
                "run as root (or with user namespaces enabled), or set OCTOPACK_EXECUTOR_NETWORK=auto"
            )
        if not self._net_prefix and network != "off":
            log.warning("no network namespace available: programs can reach the network")
        if not self.drops_privileges:
            log.warning("not root: programs run as the server's uid (no write protection, shared NPROC)")

    @property
    def network_isolated(self) -> bool:
        return bool(self._net_prefix)

    def describe(self) -> str:
        """What is enforced here, in words (logged at start, shown by GetCapabilities callers)."""
        parts = ["own session+process group", "rlimits", "wall clock", "output caps", "scrubbed env"]
        parts.append("network namespace" if self.network_isolated else "NO network isolation")
        parts.append("unprivileged uid" if self.drops_privileges else "server uid")
        return ", ".join(parts)

    def command(self, step: Step) -> list[str]:
        """The full argv: isolation wrappers, then limits, then the program."""
        argv = list(self._net_prefix)
        if self.drops_privileges and step.uid is not None:
            gid = step.gid if step.gid is not None else step.uid
            argv += ["setpriv", f"--reuid={step.uid}", f"--regid={gid}", "--clear-groups"]
            argv += ["--no-new-privs", "--"]
        cpu = max(1, math.ceil(step.cpu_seconds))
        argv += [
            "prlimit",
            f"--cpu={cpu}:{cpu + 1}",
            f"--nproc={step.max_processes}",
            f"--fsize={step.max_file_bytes}",
            f"--nofile={step.max_open_files}",
            "--core=0",
        ]
        if step.memory_bytes:
            argv.append(f"--as={step.memory_bytes}")
        return [*argv, "--", *step.argv]

    def make_workdir(self, root: Path, name: str, uid: int | None, gid: int | None) -> Path:
        """A fresh directory the program's uid owns and only it (and its group) can write."""
        path = root / name
        path.mkdir(mode=0o770)
        if self.drops_privileges and uid is not None:
            os.chown(path, uid, gid if gid is not None else uid)
            # setgid: files the compile uid writes stay readable by the run uid (same group).
            path.chmod(0o2770)
        return path

    @staticmethod
    def remove_workdir(path: Path) -> None:
        """Remove a work directory whatever the program did to its permissions."""

        def _force(func: object, name: str, _exc: object) -> None:
            try:
                os.chmod(os.path.dirname(name), 0o700)
                os.chmod(name, 0o700)
            except OSError:
                pass
            if os.path.isdir(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                _unlink(name)

        shutil.rmtree(path, onerror=_force)

    async def run(self, step: Step) -> StepOutcome:
        """Run one step to completion, timeout or cap; never raises for the program's behaviour."""
        start = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command(step),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=step.cwd,
                env=step.env,
                start_new_session=True,
            )
        except OSError as exc:
            return StepOutcome(-1, "", "", 0.0, error=f"could not start {step.argv[0]}: {exc}")
        outcome = StepOutcome(0, "", "", 0.0)

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        out = _Capture(step.max_output_bytes)
        err = _Capture(step.max_output_bytes)

        async def pump(stream: asyncio.StreamReader | None, cap: _Capture) -> None:
            assert stream is not None
            while chunk := await stream.read(READ_CHUNK):
                if not cap.add(chunk):
                    outcome.output_exceeded = True
                    kill()

        readers = asyncio.gather(pump(proc.stdout, out), pump(proc.stderr, err))
        try:
            await asyncio.wait_for(proc.wait(), timeout=step.timeout)
        except TimeoutError:
            outcome.timed_out = True
        finally:
            kill()  # the group: background children too
            if step.sweep:
                await self._sweep(step)
        outcome.exit_code = await proc.wait()
        outcome.seconds = time.perf_counter() - start
        try:
            await asyncio.wait_for(readers, timeout=DRAIN_SECONDS)
        except TimeoutError:
            readers.cancel()  # a process outside the group and uid still holds a pipe
        outcome.stdout, outcome.stdout_truncated = out.text()
        outcome.stderr, outcome.stderr_truncated = err.text()
        return outcome

    async def _sweep(self, step: Step) -> None:
        """Kill every process of the step's uid (``kill(-1)`` as that uid never hits the caller)."""
        if not (self.drops_privileges and step.uid is not None):
            return
        gid = step.gid if step.gid is not None else step.uid
        # Repeat until nothing is left: a fork bomb keeps forking while the first kill(-1) walks
        # the process list. The shell's builtin kill needs no new process, and kill(-1) spares
        # its caller; it fails (ESRCH) once the uid has no other process.
        loop = "i=0; while [ $i -lt 1000 ] && kill -9 -1 2>/dev/null; do i=$((i+1)); done"
        argv = ["setpriv", f"--reuid={step.uid}", f"--regid={gid}", "--clear-groups", "/bin/sh", "-c", loop]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env={}
        )
        await proc.wait()


class _Capture:
    """Keeps at most ``cap`` bytes of a stream; remembers whether more came."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> bool:
        """Keep what fits; False once the stream went past the cap."""
        room = self.cap - self.size
        if len(chunk) > room:
            self.parts.append(chunk[: max(room, 0)])
            self.size = self.cap
            self.truncated = True
            return False
        self.parts.append(chunk)
        self.size += len(chunk)
        return True

    def text(self) -> tuple[str, bool]:
        return b"".join(self.parts).decode("utf-8", errors="replace"), self.truncated


def _unlink(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)
