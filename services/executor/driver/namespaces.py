"""namespaces mode: the slot's supervisor as PID 1 of the slot's PID namespace (see supervisor.py).

Standard library only (it runs inside the slot's bubblewrap sandbox).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import time
from typing import Any

try:
    from . import process
    from .javac import Javac, JavacGone
except ImportError:  # run as a script inside the sandbox
    import process  # type: ignore[import-not-found,no-redef]
    from javac import Javac, JavacGone  # type: ignore[import-not-found,no-redef]


class NamespaceSlot:
    """namespaces mode: PID 1 of the slot's PID namespace, running programs one after another."""

    def __init__(self, config: dict[str, Any], ctl: socket.socket, javac: Javac | None) -> None:
        self.ctl = ctl
        self.javac = javac
        self.stale = False  # the warm javac got stuck: end the slot after this program
        self.disk = process.DEFAULT_DISK
        process.mount("none", "/", None, process.MS_REC | process.MS_PRIVATE)
        process.mount(
            "tmpfs",
            process.SCRATCH,
            "tmpfs",
            process.MS_NOSUID | process.MS_NODEV,
            f"size={self.disk},nr_inodes=65536,mode=0755",
        )
        for name, target, mode in process.PLACES:
            os.mkdir(f"{process.SCRATCH}/{name}", mode)
            os.chmod(f"{process.SCRATCH}/{name}", mode)
            process.mount(f"{process.SCRATCH}/{name}", target, None, process.MS_BIND)
        if config.get("proc") == "mount":
            process.mount("proc", "/proc", "proc", process.MS_NOSUID | process.MS_NODEV | process.MS_NOEXEC)
        # The slot's POSIX message queues, to list and remove between programs.
        process.mount(
            "mqueue", "/dev/mqueue", "mqueue", process.MS_NOSUID | process.MS_NODEV | process.MS_NOEXEC
        )
        # What this process starts has no capabilities: none are ambient, and exec as a non-zero
        # uid keeps only those.
        process.prctl(process.PR_CAP_AMBIENT, process.PR_CAP_AMBIENT_CLEAR_ALL)
        os.umask(0o022)
        self.null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

    def probe(self) -> str:
        return "ok"

    def run(self, request: dict[str, Any], fds: list[int]) -> None:
        text_fd, events_fd, *pipes = fds
        try:
            disk = int(request.get("disk") or 0) or process.DEFAULT_DISK
            if disk != self.disk:
                process.mount(
                    "none",
                    process.SCRATCH,
                    None,
                    process.MS_REMOUNT | process.MS_NOSUID | process.MS_NODEV,
                    f"size={disk}",
                )
                self.disk = disk
            process.write_program(request, text_fd, f"{process.SCRATCH}/work")
            os.chdir("/work")
        except OSError as exc:
            process.emit(events_fd, {"setup": f"{type(exc).__name__}: {exc}"})
            self.clean()
            os.close(events_fd)
            return
        process.emit(events_fd, {"setup": "ok"})
        for index, step in enumerate(request.get("steps", [])):
            event = self.step(index, step, pipes[2 * index], pipes[2 * index + 1])
            process.emit(events_fd, event)
            if event["error"] or event["timed_out"] or event["status"] != 0:
                break
        for fd in pipes:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.clean()
        os.close(events_fd)
        if self.stale:
            os._exit(4)  # the outer process stops the stuck compiler; the server starts a fresh slot

    def step(self, index: int, step: dict[str, Any], out_fd: int, err_fd: int) -> dict[str, Any]:
        if step.get("javac") and self.javac is not None and not self.stale:
            try:
                event = process.javac_step(self.javac, index, step, f"{process.SCRATCH}/work", out_fd, err_fd)
            except JavacGone as exc:
                self.stale = True
                return process.event(
                    index,
                    0,
                    float(step["timeout"]),
                    "in time" in str(exc),
                    "/work",
                    "" if "in time" in str(exc) else str(exc),
                )
            if event is not None:
                return event
        limits = process.limits(step, process.SLOT_TASKS)
        command = (
            shutil.which(step["argv"][0], path=step["env"].get("PATH"))
            if "/" not in step["argv"][0]
            else step["argv"][0]
        )
        start = time.monotonic()
        if not command or not os.access(command, os.X_OK):
            os.close(out_fd)
            os.close(err_fd)
            return process.event(
                index, 0, 0.0, False, "/work", f"could not start {step['argv'][0]}: not found"
            )
        try:
            pid, failure = process.spawn(
                [command, *step["argv"][1:]], step["env"], limits, (self.null, out_fd, err_fd)
            )
        finally:
            os.close(out_fd)
            os.close(err_fd)
        if failure:
            os.waitpid(pid, 0)
            return process.event(index, 0, 0.0, False, "/work", f"could not start {step['argv'][0]}: {failure}")
        status, timed_out = self._wait(pid, start + float(step["timeout"]))
        seconds = time.monotonic() - start
        process.kill_all(pid_one=True)
        return process.event(index, status, seconds, timed_out, "/work", "")

    def _wait(self, pid: int, deadline: float) -> tuple[int, bool]:
        """Wait for the step's process: reap its orphans meanwhile, end everything at the deadline or
        when the server says so; its wait status and whether the time ran out."""
        pidfd = os.pidfd_open(pid)
        timed_out = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 and not timed_out:
                    timed_out = True
                    process.signal_all(pid_one=True)
                ctl = self.ctl.fileno()
                ready, _, _ = select.select([pidfd, ctl], [], [], max(0.0, min(left, process.REAP_SECONDS)))
                if ctl in ready and self._killed():
                    process.signal_all(pid_one=True)
                if pidfd in ready:
                    return os.waitpid(pid, 0)[1], timed_out
                self._reap_orphans(pid)
        finally:
            os.close(pidfd)

    def _killed(self) -> bool:
        message, fds, _flags, _addr = socket.recv_fds(self.ctl, 1 << 16, 64, socket.MSG_CMSG_CLOEXEC)
        for fd in fds:
            os.close(fd)
        if not message:  # the server is gone
            process.kill_all(pid_one=True)
            os._exit(0)
        return bool(json.loads(message).get("op") == "kill")

    @staticmethod
    def _reap_orphans(keep: int) -> None:
        while True:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None or info.si_pid == keep:
                return
            os.waitpid(info.si_pid, 0)

    def clean(self) -> None:
        """Leave nothing of the program: its processes, files, IPC objects, message queues. A slot
        that cannot be cleaned ends; the server starts a fresh one."""
        try:
            self._clean()
        except (OSError, RecursionError):
            os._exit(3)

    def _clean(self) -> None:
        process.kill_all(pid_one=True)
        os.chdir("/")
        for name, _, mode in process.PLACES:
            process.empty(f"{process.SCRATCH}/{name}", mode)
        for table, call in process.IPC_TABLES:
            try:
                with open(f"/proc/sysvipc/{table}") as handle:
                    ids = [int(line.split()[1]) for line in handle.readlines()[1:] if line.strip()]
            except OSError:
                ids = []
            for ipc_id in ids:
                getattr(process.LIBC, call)(ipc_id, *([0] if table == "sem" else []), process.IPC_RMID, None)
        for name in os.listdir("/dev/mqueue"):
            with contextlib.suppress(OSError):
                os.unlink(f"/dev/mqueue/{name}")

    def kill(self) -> None:
        process.kill_all(pid_one=True)
