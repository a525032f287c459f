"""The supervisor of one executor slot: a long-lived process that runs one program at a time.

Standard library only: it runs inside the slot's sandbox, started as
``python3 -E -s -S -B supervisor.py CONFIG_JSON CTL_FD``. The server sends it one message per
program on a SOCK_SEQPACKET socket (``{"op": "run", ...}`` with the program text as a memfd, an
events pipe and one stdout/stderr pipe pair per step), and ``{"op": "kill"}`` to end it early.
Events go back as JSON lines: ``{"setup": "ok"}`` (or what failed), then per step
``{"step": k, "status": <wait status>, "seconds": s, "timed_out": b, "free": bytes, "error": s}``;
the events pipe closes when the program is over and its processes are gone.

namespaces mode (:class:`NamespaceSlot`, inside bubblewrap, which made the slot's user, network,
IPC, UTS and PID namespaces and its read-only view of the system): the supervisor is PID 1 of a
PID namespace of its own, with a /proc of its own, one tmpfs bound on /work, /tmp, /var/tmp and
/dev/shm, and capabilities that no program it starts inherits. Steps are spawned (vfork + exec,
through util-linux ``prlimit`` for their limits). Between programs it kills every process but
itself (``kill(-1)`` from PID 1), empties the tmpfs, and removes SysV IPC objects and POSIX
message queues, so nothing of one program is left for the next; bubblewrap's seccomp filter
refuses kernel keyrings, the one per-uid store that would survive.

landlock mode (:class:`LandlockSlot`, no namespaces allowed): each program gets a forked init,
a child subreaper with a fresh work directory; each step forks and confines itself with Landlock
and a seccomp filter against keyrings and IPC objects; the init kills all its descendants after
each step.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
from typing import Any

try:
    from . import landlock, seccomp
    from .javac import Javac, JavacGone
except ImportError:  # run as a script inside the sandbox
    import landlock  # type: ignore[import-not-found,no-redef]
    import seccomp  # type: ignore[import-not-found,no-redef]
    from javac import Javac, JavacGone  # type: ignore[import-not-found,no-redef]

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SCRATCH = "/.scratch"
#: Private writable places of a program in namespaces mode: (folder in the tmpfs, mount point, mode).
PLACES = (
    ("work", "/work", 0o755),
    ("tmp", "/tmp", 0o1777),
    ("vartmp", "/var/tmp", 0o1777),
    ("shm", "/dev/shm", 0o1777),
)
DEFAULT_DISK = 256 * 1024 * 1024
#: Tasks of the slot's uid RLIMIT_NPROC counts besides the program's own: in namespaces mode
#: bubblewrap's init and the supervisor's two processes (the count is per user namespace).
SLOT_TASKS = 3
#: How often a running step's orphans are reaped (they would count against RLIMIT_NPROC).
REAP_SECONDS = 0.05
PRLIMIT = "/usr/bin/prlimit"
PRLIMIT_FLAGS = {
    "cpu": "--cpu",
    "as": "--as",
    "nproc": "--nproc",
    "fsize": "--fsize",
    "nofile": "--nofile",
    "core": "--core",
}
LIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGALRM)
IPC_TABLES = (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl"))
IPC_RMID = 0

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, value: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, value, arg, 0, 0), f"prctl({option})")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    fs = fstype.encode() if fstype else None
    _check(
        _libc.mount(source.encode(), target.encode(), fs, flags, data.encode() if data else None),
        f"mount {target}",
    )


def _limits(step: dict[str, Any], extra_tasks: int) -> dict[str, list[int]]:
    """The step's rlimits as [soft, hard], with the tasks RLIMIT_NPROC already counts added."""
    limits = {
        k: [int(x) for x in v] if isinstance(v, list) else [int(v), int(v)]
        for k, v in step["rlimits"].items()
    }
    if "nproc" in limits:
        limits["nproc"] = [n + extra_tasks for n in limits["nproc"]]
    return limits


def _event(index: int, status: int, seconds: float, timed_out: bool, work: str, error: str) -> dict[str, Any]:
    free = os.statvfs(work)
    return {
        "step": index,
        "status": status,
        "seconds": seconds,
        "timed_out": timed_out,
        "free": free.f_bavail * free.f_frsize,
        "error": error,
    }


def _emit(fd: int, event: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(event) + "\n").encode())


def _write_program(request: dict[str, Any], text_fd: int, work: str) -> None:
    filename = request.get("filename")
    if filename:
        size = os.fstat(text_fd).st_size
        with open(os.path.join(work, filename), "wb") as out:
            out.write(os.pread(text_fd, size, 0) if size else b"")
    os.close(text_fd)


def _javac_step(
    javac: Javac, index: int, step: dict[str, Any], work: str, out_fd: int, err_fd: int
) -> dict[str, Any] | None:
    """A build step the warm javac does: the event, or None when the command line must do it
    (the compiler failed inside). Raises JavacGone when the compiler is stuck or dead."""
    tool = step["javac"]
    start = time.monotonic()
    with open(os.path.join(work, tool["file"]), encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read()
    try:
        status, diagnostics, classes = javac.compile(
            tool["options"], tool["file"], text, float(step["timeout"])
        )
    except JavacGone:
        os.close(out_fd)
        os.close(err_fd)
        raise
    if status == 2:
        return None
    for name, data in classes:
        with open(os.path.join(work, os.path.basename(name)), "wb") as out:
            out.write(data)
    with contextlib.suppress(OSError):
        os.write(
            err_fd, diagnostics.encode("utf-8", errors="replace")[: int(step.get("max_output", 1 << 20)) + 1]
        )
    os.close(out_fd)
    os.close(err_fd)
    return _event(index, status << 8, time.monotonic() - start, False, work, "")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _signal_all(pid_one: bool, keep: tuple[int, ...] = ()) -> bool:
    """SIGKILL every process of the program but the caller (PID 1 of the namespace, or a subreaper)."""
    if pid_one:
        # kill(-1) from PID 1 of a PID namespace reaches every process there but itself.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True
    children = [c for c in _children(os.getpid()) if c not in keep]
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    return bool(children)


def _reap_finished() -> tuple[list[tuple[int, int]], bool]:
    """(pid, wait status) of every child that has ended, and whether no child is left at all."""
    finished = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return finished, True
        if pid == 0:
            return finished, False
        finished.append((pid, status))


def _kill_all(pid_one: bool, keep: tuple[int, ...] = ()) -> None:
    """Kill and reap until no process is left: a fork bomb keeps forking while the first kill runs,
    and orphans of killed processes come back to the caller (init or subreaper) to be killed next.
    ``keep``: children of a subreaper that are not the program's (the warm javac)."""
    while True:
        signalled = _signal_all(pid_one, keep)
        finished, none_left = _reap_finished()
        reaped = bool(finished)
        if none_left:
            return
        if not pid_one and not signalled and not reaped:
            return  # only the kept children are left
        if not reaped:
            time.sleep(0.0005 if signalled else 0.001)


def _empty(folder: str, mode: int) -> None:
    """Remove everything in ``folder`` whatever its permissions, and restore the folder's mode."""
    os.chmod(folder, 0o700)
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            _empty(entry.path, 0o700)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)
    os.chmod(folder, mode)


class NamespaceSlot:
    """namespaces mode: PID 1 of the slot's PID namespace, running programs one after another."""

    def __init__(self, config: dict[str, Any], ctl: socket.socket, javac: Javac | None) -> None:
        self.ctl = ctl
        self.javac = javac
        self.stale = False  # the warm javac got stuck: end the slot after this program
        self.disk = DEFAULT_DISK
        _mount("none", "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size={self.disk},nr_inodes=65536,mode=0755")
        for name, target, mode in PLACES:
            os.mkdir(f"{SCRATCH}/{name}", mode)
            os.chmod(f"{SCRATCH}/{name}", mode)
            _mount(f"{SCRATCH}/{name}", target, None, MS_BIND)
        if config.get("proc") == "mount":
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        # The slot's POSIX message queues, to list and remove between programs.
        _mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        # What this process starts has no capabilities: none are ambient, and exec as a non-zero
        # uid keeps only those.
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        os.umask(0o022)
        self.null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

    def probe(self) -> str:
        return "ok"

    def run(self, request: dict[str, Any], fds: list[int]) -> None:
        text_fd, events_fd, *pipes = fds
        try:
            disk = int(request.get("disk") or 0) or DEFAULT_DISK
            if disk != self.disk:
                _mount("none", SCRATCH, None, MS_REMOUNT | MS_NOSUID | MS_NODEV, f"size={disk}")
                self.disk = disk
            _write_program(request, text_fd, f"{SCRATCH}/work")
            os.chdir("/work")
        except OSError as exc:
            _emit(events_fd, {"setup": f"{type(exc).__name__}: {exc}"})
            self.clean()
            os.close(events_fd)
            return
        _emit(events_fd, {"setup": "ok"})
        for index, step in enumerate(request.get("steps", [])):
            event = self.step(index, step, pipes[2 * index], pipes[2 * index + 1])
            _emit(events_fd, event)
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
                event = _javac_step(self.javac, index, step, f"{SCRATCH}/work", out_fd, err_fd)
            except JavacGone as exc:
                self.stale = True
                return _event(
                    index,
                    0,
                    float(step["timeout"]),
                    "in time" in str(exc),
                    "/work",
                    "" if "in time" in str(exc) else str(exc),
                )
            if event is not None:
                return event
        limits = _limits(step, SLOT_TASKS)
        flags = [f"{PRLIMIT_FLAGS[k]}={soft}:{hard}" for k, (soft, hard) in limits.items()]
        command = (
            shutil.which(step["argv"][0], path=step["env"].get("PATH"))
            if "/" not in step["argv"][0]
            else step["argv"][0]
        )
        start = time.monotonic()
        if not command or not os.access(command, os.X_OK):
            os.close(out_fd)
            os.close(err_fd)
            return _event(index, 0, 0.0, False, "/work", f"could not start {step['argv'][0]}: not found")
        actions = [
            (os.POSIX_SPAWN_DUP2, self.null, 0),
            (os.POSIX_SPAWN_DUP2, out_fd, 1),
            (os.POSIX_SPAWN_DUP2, err_fd, 2),
        ]
        try:
            pid = os.posix_spawn(
                PRLIMIT,
                [PRLIMIT, *flags, "--", command, *step["argv"][1:]],
                step["env"],
                file_actions=actions,
                setsid=True,
                setsigdef=RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError as exc:
            return _event(index, 0, 0.0, False, "/work", f"could not start {step['argv'][0]}: {exc}")
        finally:
            os.close(out_fd)
            os.close(err_fd)
        status, timed_out = self._wait(pid, start + float(step["timeout"]))
        seconds = time.monotonic() - start
        _kill_all(pid_one=True)
        return _event(index, status, seconds, timed_out, "/work", "")

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
                    _signal_all(pid_one=True)
                ctl = self.ctl.fileno()
                ready, _, _ = select.select([pidfd, ctl], [], [], max(0.0, min(left, REAP_SECONDS)))
                if ctl in ready and self._killed():
                    _signal_all(pid_one=True)
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
            _kill_all(pid_one=True)
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
        _kill_all(pid_one=True)
        os.chdir("/")
        for name, _, mode in PLACES:
            _empty(f"{SCRATCH}/{name}", mode)
        for table, call in IPC_TABLES:
            try:
                with open(f"/proc/sysvipc/{table}") as handle:
                    ids = [int(line.split()[1]) for line in handle.readlines()[1:] if line.strip()]
            except OSError:
                ids = []
            for ipc_id in ids:
                getattr(_libc, call)(ipc_id, *([0] if table == "sem" else []), IPC_RMID, None)
        for name in os.listdir("/dev/mqueue"):
            with contextlib.suppress(OSError):
                os.unlink(f"/dev/mqueue/{name}")

    def kill(self) -> None:
        _kill_all(pid_one=True)


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
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            shutil.rmtree(self.work, ignore_errors=True)
            os.mkdir(self.work, 0o700)
            # Not dumpable: a program of the same uid can neither open /proc/<init>/fd/* (the
            # events pipe) nor ptrace this process to forge its own verdict.
            _prctl(PR_SET_DUMPABLE, 0)
            _write_program(self.request, self.text_fd, self.work)
            os.chdir(self.work)
            os.umask(0o022)
        except OSError as exc:
            _emit(self.events_fd, {"setup": f"{type(exc).__name__}: {exc}"})
            return
        _emit(self.events_fd, {"setup": "ok"})
        for index, step in enumerate(self.request.get("steps", [])):
            event = self.step(index, step)
            _emit(self.events_fd, event)
            if event["error"] or event["timed_out"] or event["status"] != 0:
                break
        os.chdir("/")
        shutil.rmtree(self.work, ignore_errors=True)

    def step(self, index: int, step: dict[str, Any]) -> dict[str, Any]:
        out_fd, err_fd = self.pipes[2 * index], self.pipes[2 * index + 1]
        if step.get("javac") and self.javac is not None:
            try:
                event = _javac_step(self.javac, index, step, self.work, out_fd, err_fd)
            except JavacGone as exc:
                os._exit(4 if "in time" in str(exc) else 5)  # the slot restarts its compiler
            if event is not None:
                return event
        # No user namespace: RLIMIT_NPROC counts every task of this uid (the server's included).
        limits = _limits(step, _tasks_of(os.getuid()))
        rules = self._ruleset()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                for sig in RESET_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                null = os.open("/dev/null", os.O_RDONLY)
                for fd, target in ((null, 0), (out_fd, 1), (err_fd, 2)):
                    os.dup2(fd, target)
                for name, (soft, hard) in limits.items():
                    resource.setrlimit(LIMITS[name], (soft, hard))
                seccomp.install(ipc=True)
                rules.restrict()
                os.execvpe(step["argv"][0], step["argv"], step["env"])
            except BaseException as exc:  # reported by the init as a sandbox error
                os.write(err_w, str(exc).encode()[:4000])
            os._exit(127)
        os.close(err_w)
        os.close(rules.fd)
        os.close(out_fd)
        os.close(err_fd)
        failure = b""
        while chunk := os.read(err_r, 4096):
            failure += chunk
        os.close(err_r)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, float(step["timeout"])))
        status = self._wait_for(pid)
        signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.monotonic() - start
        _kill_all(pid_one=False)
        error = f"could not start {step['argv'][0]}: {failure.decode('utf-8', 'replace')}" if failure else ""
        if status is None:
            status, error = 0, error or "the step's process was lost"
        return _event(index, status, seconds, self.timed_out, self.work, error)

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
        _signal_all(pid_one=False)


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
        finished, _ = _reap_finished()
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
        _kill_all(pid_one=False, keep=keep)  # the init's orphans came back to this subreaper
        if self.javac is not None:  # it may have been in the middle of a request: start afresh
            self.javac.close()
            self.javac = Javac(self.javac_argv)
        self.init_pid = 0


def serve(slot: NamespaceSlot | LandlockSlot, ctl: socket.socket) -> None:
    ctl.send(json.dumps({"ready": True, "probe": slot.probe()}).encode())
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 20, 64, socket.MSG_CMSG_CLOEXEC)
        except OSError:
            break
        if not message:
            break
        request = json.loads(message)
        if request["op"] == "run":
            slot.run(request, fds)
            continue
        for fd in fds:
            os.close(fd)
        if request["op"] == "kill":
            slot.kill()
    slot.kill()


def main() -> None:
    config = json.loads(sys.argv[1])
    ctl = socket.socket(fileno=int(sys.argv[2]))
    # The server's death ends the slot (namespaces mode: bubblewrap's --die-with-parent does it too).
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    javac = Javac(config["javac"]) if config.get("javac") else None
    if config["mode"] != "namespaces":
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        serve(LandlockSlot(config, ctl, javac), ctl)
        return
    # Serve as PID 1 of a PID namespace of our own: kill(-1) then ends exactly the program's
    # processes, and signals its programs send to PID 1 without a handler never arrive. The mount
    # and IPC namespaces are our own too: bubblewrap's belong to the user namespace it made first,
    # where this process has no capabilities.
    _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    child = os.fork()
    if child:
        ctl.close()
        if javac is not None:
            javac.sock.close()
        _, status = os.waitpid(child, 0)
        if javac is not None:
            javac.close()
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        slot = NamespaceSlot(config, ctl, javac)
    except OSError as exc:
        ctl.send(json.dumps({"ready": True, "probe": f"{type(exc).__name__}: {exc}"}).encode())
        return
    serve(slot, ctl)


if __name__ == "__main__":
    main()
