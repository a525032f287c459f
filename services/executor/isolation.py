"""What keeps programs apart on this platform: the mode the sandbox found and what it enforces.

Two modes, probed at start (``OCTOPACK_EXECUTOR_ISOLATION``; docs/executor.md has the table):

- ``namespaces``: every slot is a bubblewrap sandbox (user, PID, network, IPC, UTS namespaces, a
  read-only view of the system without the server's files); its supervisor is PID 1 of the
  slot's PID namespace with a tmpfs for the work directory, /tmp, /var/tmp and /dev/shm, and
  leaves nothing of a program for the next. Needs unprivileged user namespaces. Where the
  container's /proc is masked (a pod without ``procMount: Unmasked``) no new /proc can be
  mounted: the slot then sees the container's /proc read-only (``proc="host"``).
- ``landlock``: no namespace can be made (a pod under containerd's default seccomp profile):
  programs run under a Landlock ruleset (ABI 6, Linux 6.12+) and a seccomp filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["namespaces", "landlock"]
#: Landlock ABI with signal and abstract-socket scoping (Linux 6.12).
LANDLOCK_MIN_ABI = 6


@dataclass(frozen=True)
class Protection:
    """One guarantee of the sandbox: whether it holds here and how."""

    name: str
    enforced: bool
    how: str


@dataclass(frozen=True)
class Isolation:
    """The mode the sandbox runs in and the platform facts it rests on."""

    mode: Mode
    #: namespaces mode: "mount" (a /proc per program) or "host" (the container's /proc, read-only).
    proc: Literal["mount", "host", ""] = ""
    network_namespace: bool = False
    landlock_abi: int = 0
    #: Host uid the slots run as (the server is root), None when they run as the server's uid.
    sandbox_uid: int | None = None
    #: Bytes each program may write (namespaces: its tmpfs; landlock: the slot's volume, 0 = none).
    disk_limited: bool = True

    @property
    def namespaces(self) -> bool:
        return self.mode == "namespaces"

    def protections(self) -> list[Protection]:
        """Every guarantee, in the order of the table in docs/executor.md."""
        ns = self.namespaces
        own_proc = ns and self.proc == "mount"
        return [
            Protection(
                "process_group",
                True,
                "own session and process group; the whole program is killed on time-out",
            ),
            Protection(
                "limits",
                True,
                "setrlimit per step: CPU seconds, address space, processes, file size, open files, no core",
            ),
            Protection(
                "wall_clock_and_output",
                True,
                "wall clock per step; stdout and stderr capped, the program killed past a cap",
            ),
            Protection(
                "scrubbed_environment", True, "exactly the runner's variables; nothing of the server's"
            ),
            Protection(
                "read_only_system",
                True,
                "mount namespace: /usr, /etc and the toolchains bound read-only"
                if ns
                else "Landlock: system paths read and execute only",
            ),
            Protection(
                "private_files",
                True,
                "mount namespace: the server's files and other programs' work directories are not there"
                if ns
                else "Landlock: nothing outside the system paths and the program's own work directory is readable",
            ),
            Protection(
                "private_tmp",
                True,
                "the slot's tmpfs on /work, /tmp, /var/tmp and /dev/shm, emptied after every program"
                if ns
                else "/tmp, /var/tmp and /dev/shm are not writable (TMPDIR is the work directory, removed after)",
            ),
            Protection(
                "disk_limit",
                self.disk_limited,
                "the tmpfs holds max_disk_bytes, shared by the work directory and the temporary folders"
                if ns
                else (
                    "the slot's work volume is its own file system"
                    if self.disk_limited
                    else "NOT enforced: only the per-file size limit holds"
                ),
            ),
            Protection(
                "processes",
                True,
                (
                    "the slot's PID namespace and /proc: no process outside the program can be seen or signalled"
                    if own_proc
                    else "the slot's PID namespace: nothing outside the program can be signalled; the pod's /proc listed read-only"
                )
                if ns
                else "Landlock scope: no signal or ptrace outside the program; /proc lists other processes",
            ),
            Protection(
                "cleanup",
                True,
                "the slot's PID 1 kills every other process after each step"
                if ns
                else "a subreaper kills every descendant after each step",
            ),
            Protection(
                "network",
                self.network_namespace,
                "network namespace per slot with only a down loopback"
                if self.network_namespace
                else (
                    "Landlock denies TCP bind and connect; other traffic needs the pod's NetworkPolicy"
                    if not ns
                    else "NOT isolated (network=off)"
                ),
            ),
            Protection(
                "ipc",
                True,
                "the slot's IPC namespace, emptied after every program; keyrings refused (seccomp)"
                if ns
                else "SysV IPC, message queues and keyrings refused (seccomp); abstract sockets scoped by Landlock",
            ),
            Protection(
                "unprivileged",
                True,
                f"slots run as host uid {self.sandbox_uid}"
                if self.sandbox_uid is not None
                else "programs have no capabilities" + (" (their own user namespace)" if ns else ""),
            ),
        ]

    def describe(self) -> str:
        """One line for the log and GetCapabilities.sandbox."""
        if self.namespaces:
            proc = "own /proc" if self.proc == "mount" else "container /proc read-only"
            net = "network namespace" if self.network_namespace else "host network"
            who = f"uid {self.sandbox_uid}" if self.sandbox_uid is not None else "the server's uid"
            return f"namespaces (bubblewrap slots, cleaned between programs; tmpfs; {proc}; {net}; {who})"
        return f"landlock (ABI {self.landlock_abi}; subreaper cleanup; no network namespace)"
