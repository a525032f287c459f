"""One slot's sandbox as the server sees it: a long-lived supervisor process and its socket.

The supervisor (``driver/supervisor.py``) starts once per slot; each program costs one message
on a SOCK_SEQPACKET socket, a memfd with its text and a few pipes, no process of the server's
own. The server reads the pipes with the event loop, caps them, and asks the supervisor to kill
the program when a cap is passed or its deadline is long gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octopack.services.executor.model import StepOutcome

READ_CHUNK = 64 * 1024
#: After the program's init has exited, its pipes get this long to report end of file.
DRAIN_SECONDS = 2.0
#: The server's own deadline beyond the steps' timeouts (the init enforces those itself).
SLACK_SECONDS = 15.0
#: A work directory with less room than this after a failed step was full.
DISK_SLACK = 64 * 1024


class SandboxUnavailable(Exception):
    """The slot's sandbox could not start; the message is what the platform said."""


@dataclass(frozen=True)
class Step:
    """One command (a build or the run) with its limits."""

    argv: list[str]
    env: dict[str, str]
    timeout: float
    cpu_seconds: float
    memory_bytes: int  # 0: no address-space limit
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    max_output_bytes: int
    #: The slot's warm javac may do this build step instead (``{"file": ..., "options": [...]}``).
    javac: dict[str, Any] | None = None

    def request(self) -> dict[str, Any]:
        cpu = max(1, math.ceil(self.cpu_seconds))
        rlimits: dict[str, Any] = {
            "cpu": [cpu, cpu + 1],
            "nproc": self.max_processes,
            "fsize": self.max_file_bytes,
            "nofile": self.max_open_files,
            "core": 0,
        }
        if self.memory_bytes:
            rlimits["as"] = self.memory_bytes
        request = {"argv": self.argv, "env": self.env, "timeout": self.timeout, "rlimits": rlimits}
        if self.javac is not None:
            request["javac"] = self.javac
            request["max_output"] = self.max_output_bytes
        return request


@dataclass(frozen=True)
class Job:
    """One program: its file, its steps in order (each runs only if the previous exited 0)."""

    filename: str
    text: str
    steps: list[Step]
    disk_bytes: int


class Cell:
    """A slot's supervisor: started with ``argv + [config, ctl_fd]``, one program at a time."""

    def __init__(
        self, argv: list[str], config: dict[str, Any], log: Path, seccomp: bytes | None = None
    ) -> None:
        self.argv = argv
        self.config = config
        self.log = log
        #: A seccomp program for bubblewrap's ``--seccomp FD`` (the argv names FD as "{seccomp}").
        self.seccomp = seccomp
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Start the supervisor and wait until it has set up (and torn down) one empty program."""
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        passed = [theirs.fileno()]
        argv = list(self.argv)
        if self.seccomp is not None:
            filter_fd = os.memfd_create("seccomp", os.MFD_CLOEXEC)
            os.write(filter_fd, self.seccomp)
            os.lseek(filter_fd, 0, os.SEEK_SET)
            passed.append(filter_fd)
            argv = [str(filter_fd) if a == "{seccomp}" else a for a in argv]
        try:
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(
                    [*argv, json.dumps(self.config), str(theirs.fileno())],
                    pass_fds=passed,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env={"PATH": "/usr/bin:/bin"},
                    start_new_session=True,
                )
        finally:
            for fd in passed[1:]:
                os.close(fd)
        theirs.close()
        self.sock = ours
        ours.settimeout(timeout)
        try:
            hello = ours.recv(65536)
        except (TimeoutError, OSError):
            hello = b""
        ours.settimeout(None)
        if not hello:
            self.close(grace=0)
            said = self.log.read_text(errors="replace").strip()
            raise SandboxUnavailable(said[-2000:] or "the slot's supervisor exited without a word")
        probe = json.loads(hello).get("probe")
        if probe != "ok":
            self.close(grace=0)
            raise SandboxUnavailable(f"setting up a program failed: {probe}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self, grace: float = 2.0) -> None:
        """Stop the supervisor: it ends by itself when its socket closes, else it is killed."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.process is not None:
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, 9)
                self.process.wait()
            self.process = None

    def _send(self, message: dict[str, Any], fds: list[int] = ()) -> None:  # type: ignore[assignment]
        assert self.sock is not None
        socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))

    # ---- one program ----------------------------------------------------------------------------
    async def run(self, job: Job) -> list[StepOutcome]:
        """Run the job's steps; one outcome per step that started (the last one decides)."""
        if not self.alive:
            self.start()
        start = time.perf_counter()
        memfd = os.memfd_create("program", os.MFD_CLOEXEC)
        data = job.text.encode("utf-8", errors="surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(memfd, view) :]
        reads: list[int] = []
        writes: list[int] = []
        for _ in range(1 + 2 * len(job.steps)):
            r, w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(r, False)
            reads.append(r)
            writes.append(w)
        request = {
            "op": "run",
            "filename": job.filename,
            "disk": job.disk_bytes,
            "steps": [step.request() for step in job.steps],
        }
        try:
            self._send(request, [memfd, *writes])
        except OSError as exc:
            for fd in (memfd, *reads, *writes):
                os.close(fd)
            self.close(grace=0)
            return [StepOutcome(-1, "", "", 0.0, error=f"the slot's supervisor is gone: {exc}")]
        for fd in (memfd, *writes):
            os.close(fd)
        return await _Collector(self, job, reads, start).wait()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._send({"op": "kill"})


class _Collector:
    """Reads one program's events and outputs until every pipe has closed."""

    def __init__(self, cell: Cell, job: Job, reads: list[int], start: float) -> None:
        self.cell = cell
        self.job = job
        self.loop = asyncio.get_running_loop()
        self.events_fd, *self.output_fds = reads
        self.buffers: dict[int, bytearray] = {fd: bytearray() for fd in reads}
        self.caps = {fd: job.steps[i // 2].max_output_bytes for i, fd in enumerate(self.output_fds)}
        self.truncated: set[int] = set()
        self.open = set(reads)
        self.exceeded_step: int | None = None
        self.killed = False
        self.all_closed = self.loop.create_future()
        self.events_closed = self.loop.create_future()
        self.start = start
        for fd in reads:
            self.loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            self._close(fd)
            return
        buffer = self.buffers[fd]
        if fd == self.events_fd:
            buffer += chunk
            return
        cap = self.caps[fd]
        room = cap - len(buffer)
        if len(chunk) > room:
            buffer += chunk[: max(room, 0)]
            self.truncated.add(fd)
            if self.exceeded_step is None:
                self.exceeded_step = self.output_fds.index(fd) // 2
                self._kill()
        else:
            buffer += chunk

    def _close(self, fd: int) -> None:
        self.loop.remove_reader(fd)
        os.close(fd)
        self.open.discard(fd)
        if fd == self.events_fd and not self.events_closed.done():
            self.events_closed.set_result(None)
        if not self.open and not self.all_closed.done():
            self.all_closed.set_result(None)

    def _kill(self) -> None:
        if not self.killed:
            self.killed = True
            self.cell.kill()

    async def wait(self) -> list[StepOutcome]:
        deadline = sum(step.timeout for step in self.job.steps) + SLACK_SECONDS
        try:
            await asyncio.wait_for(asyncio.shield(self.events_closed), timeout=deadline)
        except TimeoutError:
            self._kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.events_closed), timeout=SLACK_SECONDS)
        try:
            await asyncio.wait_for(asyncio.shield(self.all_closed), timeout=DRAIN_SECONDS)
        except TimeoutError:
            self._kill()
        for fd in list(self.open):
            self._close(fd)
        if not self.cell.alive:
            self.cell.close(grace=0)
        return self._outcomes()

    def _outcomes(self) -> list[StepOutcome]:
        events = [json.loads(line) for line in self.buffers[self.events_fd].decode().splitlines() if line]
        setup = events[0].get("setup") if events else None
        if setup != "ok":
            why = setup or ("killed" if self.killed else "the program's init died")
            return [
                StepOutcome(
                    -1, "", "", time.perf_counter() - self.start, error=f"sandbox set-up failed: {why}"
                )
            ]
        steps = {int(e["step"]): e for e in events[1:]}
        outcomes: list[StepOutcome] = []
        for index in range(len(self.job.steps)):
            event = steps.get(index)
            if event is None and outcomes and outcomes[-1].stopped:
                break  # an earlier step ended the program
            out_fd, err_fd = self.output_fds[2 * index], self.output_fds[2 * index + 1]
            outcome = StepOutcome(
                exit_code=os.waitstatus_to_exitcode(int(event["status"])) if event else -9,
                stdout=self.buffers[out_fd].decode("utf-8", errors="replace"),
                stderr=self.buffers[err_fd].decode("utf-8", errors="replace"),
                seconds=float(event["seconds"]) if event else time.perf_counter() - self.start,
                stdout_truncated=out_fd in self.truncated,
                stderr_truncated=err_fd in self.truncated,
                timed_out=bool(event["timed_out"]) if event else self.killed and self.exceeded_step is None,
                output_exceeded=self.exceeded_step == index,
                error=str(event["error"]) if event else ("" if self.killed else "the program's init died"),
                disk_full=event is not None and int(event["free"]) < DISK_SLACK,
            )
            outcomes.append(outcome)
            if outcome.stopped:
                break
        return outcomes
