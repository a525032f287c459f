"""landlock mode: a forked init per program, each step confined by Landlock and seccomp (see supervisor.py).

Standard library only (it runs where the server does, with no namespace of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
from typing import Any

try:
    from . import landlock, process, seccomp
    from .javac import Javac, JavacGone
except ImportError:  # run as a script inside the sandbox
    import landlock  # type: ignore[import-not-found,no-redef]
    import process  # type: ignore[import-not-found,no-redef]
    import seccomp  # type: ignore[import-not-found,no-redef]
    from javac import Javac, JavacGone  # type: ignore[import-not-found,no-redef]


class Program:
    """landlock mode: one program's init (a forked subreaper) runs its steps in a fresh work directory."""

    def __init__(
        self, config: dict[str, Any], request: dict[str, Any], fds: list[int], javac: Javac | None
    ) -> None:
        self.config = config
        self.request = request
        self.text_fd, self.events_fd, *self.pipes = fds
        self.work = os.path.join(config["work"], "w")
        self.timed_out = False
        self.javac = javac

    def run(self) -> None:
        signal.signal(signal.SIGALRM, self._on_alarm)
        try:
            process.prctl(process.PR_SET_CHILD_SUBREAPER, 1)
            shutil.rmtree(self.work, ignore_errors=True)
            os.mkdir(self.work, 0o700)
            # Not dumpable: a program of the same uid can neither open /proc/<init>/fd/* (the
            # events pipe) nor ptrace this process to forge its own verdict.
            process.prctl(process.PR_SET_DUMPABLE, 0)
            process.write_program(self.request, self.text_fd, self.work)
            os.chdir(self.work)
            os.umask(0o022)
        except OSError as exc:
            process.emit(self.events_fd, {"setup": f"{type(exc).__name__}: {exc}"})
            return
        process.emit(self.events_fd, {"setup": "ok"})
        for index, step in enumerate(self.request.get("steps", [])):
            event = self.step(index, step)
            process.emit(self.events_fd, event)
            if event["error"] or event["timed_out"] or event["status"] != 0:
                break
        os.chdir("/")
        shutil.rmtree(self.work, ignore_errors=True)

    def step(self, index: int, step: dict[str, Any]) -> dict[str, Any]:
        out_fd, err_fd = self.pipes[2 * index], self.pipes[2 * index + 1]
        if step.get("javac") and self.javac is not None:
            try:
                event = process.javac_step(self.javac, index, step, self.work, out_fd, err_fd)
            except JavacGone as exc:
                os._exit(4 if "in time" in str(exc) else 5)  # the slot restarts its compiler
            if event is not None:
                return event
        # No user namespace: RLIMIT_NPROC counts every task of this uid (the server's included).
        limits = process.limits(step, _tasks_of(os.getuid()))
        rules = self._ruleset()
        start = time.monotonic()

        def confine() -> None:
            seccomp.install(ipc=True)
            rules.restrict()

        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid, failure = process.spawn(
                step["argv"], step["env"], limits, (null, out_fd, err_fd), confine=confine, search=True
            )
        finally:
            for fd in (null, rules.fd, out_fd, err_fd):
                os.close(fd)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, float(step["timeout"])))
        status = self._wait_for(pid)
        signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.monotonic() - start
        process.kill_all(pid_one=False)
        error = f"could not start {step['argv'][0]}: {failure}" if failure else ""
        if status is None:
            status, error = 0, error or "the step's process was lost"
        return process.event(index, status, seconds, self.timed_out, self.work, error)

    def _ruleset(self) -> landlock.Ruleset:
        rules = landlock.Ruleset(int(self.config["landlock"]))
        for path in self.config.get("read_only", []):
            rules.allow(path, landlock.READ)
        for path in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"):
            rules.allow(path, landlock.DEVICE)
        rules.allow(self.work, landlock.fs_rights(rules.version))
        return rules

    @staticmethod
    def _wait_for(pid: int) -> int | None:
        """Reap until the step's own process ends (orphans are reaped on the way); its wait status."""
        while True:
            try:
                child, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return None
            if child == pid:
                return status

    def _on_alarm(self, _sig: int, _frame: object) -> None:
        self.timed_out = True
        process.signal_all(pid_one=False)


def _tasks_of(uid: int) -> int:
    """Tasks (threads) of ``uid`` now: what RLIMIT_NPROC already counts against a new process."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except (OSError, ValueError):
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


class LandlockSlot:
    """landlock mode: forks a :class:`Program` per program, kills it (and its tree) on request."""

    def __init__(self, config: dict[str, Any], ctl: socket.socket, javac: Javac | None) -> None:
        self.config = config
        self.ctl = ctl
        self.init_pid = 0
        self.javac = javac
        self.javac_argv: list[str] = config.get("javac") or []

    def probe(self) -> str:
        """Set up (and tear down) one empty program: 'ok' or what failed."""
        events_r, events_w = os.pipe()
        self.run({"steps": []}, [os.memfd_create("probe"), events_w])
        lines = b""
        while chunk := os.read(events_r, 4096):
            lines += chunk
        os.close(events_r)
        first = lines.decode().splitlines()[:1]
        return str(json.loads(first[0]).get("setup")) if first else "the program init died"

    def run(self, request: dict[str, Any], fds: list[int]) -> None:
        self.reap()
        if self.javac is not None:
            try:
                self.javac.warmed()  # the forked init cannot tell this process it read the warm-up
            except JavacGone:
                self.javac.close()
                self.javac = Javac(self.javac_argv)
        pid = os.fork()
        if pid == 0:
            self.ctl.close()
            Program(self.config, request, fds, self.javac).run()
            os._exit(0)
        for fd in fds:
            os.close(fd)
        self.init_pid = pid

    def reap(self) -> None:
        """Collect finished inits; one that ended for a stuck or dead compiler takes it along."""
        finished, _ = process.reap_finished()
        for pid, status in finished:
            if self.javac is not None and (
                pid == self.javac.pid or os.waitstatus_to_exitcode(status) in (4, 5)
            ):
                argv = self.javac_argv
                if pid != self.javac.pid:
                    self.javac.close()
                self.javac = Javac(argv)

    def kill(self) -> None:
        if self.init_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)
        keep = (self.javac.pid,) if self.javac is not None else ()
        process.kill_all(pid_one=False, keep=keep)  # the init's orphans came back to this subreaper
        if self.javac is not None:  # it may have been in the middle of a request: start afresh
            self.javac.close()
            self.javac = Javac(self.javac_argv)
        self.init_pid = 0
