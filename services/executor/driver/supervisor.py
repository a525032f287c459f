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
/dev/shm, and capabilities that no program it starts inherits. Steps are forked, get their limits and exec
(``process.spawn``). Between programs it kills every process but
itself (``kill(-1)`` from PID 1), empties the tmpfs, and removes SysV IPC objects and POSIX
message queues, so nothing of one program is left for the next; bubblewrap's seccomp filter
refuses kernel keyrings, the one per-uid store that would survive.

landlock mode (:class:`LandlockSlot`, no namespaces allowed): each program gets a forked init,
a child subreaper with a fresh work directory; each step forks and confines itself with Landlock
and a seccomp filter against keyrings and IPC objects; the init kills all its descendants after
each step.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

try:
    from . import process
    from .confined import LandlockSlot
    from .javac import Javac
    from .namespaces import NamespaceSlot
except ImportError:  # run as a script inside the sandbox
    import process  # type: ignore[import-not-found,no-redef]
    from confined import LandlockSlot  # type: ignore[import-not-found,no-redef]
    from javac import Javac  # type: ignore[import-not-found,no-redef]
    from namespaces import NamespaceSlot  # type: ignore[import-not-found,no-redef]


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
    process.prctl(process.PR_SET_PDEATHSIG, signal.SIGKILL)
    process.prctl(process.PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    javac = Javac(config["javac"]) if config.get("javac") else None
    if config["mode"] != "namespaces":
        process.prctl(process.PR_SET_CHILD_SUBREAPER, 1)
        serve(LandlockSlot(config, ctl, javac), ctl)
        return
    # Serve as PID 1 of a PID namespace of our own: kill(-1) then ends exactly the program's
    # processes, and signals its programs send to PID 1 without a handler never arrive. The mount
    # and IPC namespaces are our own too: bubblewrap's belong to the user namespace it made first,
    # where this process has no capabilities.
    process.check(
        process.LIBC.unshare(process.CLONE_NEWPID | process.CLONE_NEWNS | process.CLONE_NEWIPC), "unshare"
    )
    child = os.fork()
    if child:
        ctl.close()
        if javac is not None:
            javac.sock.close()
        _, status = os.waitpid(child, 0)
        if javac is not None:
            javac.close()
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    process.prctl(process.PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        slot = NamespaceSlot(config, ctl, javac)
    except OSError as exc:
        ctl.send(json.dumps({"ready": True, "probe": f"{type(exc).__name__}: {exc}"}).encode())
        return
    serve(slot, ctl)


if __name__ == "__main__":
    main()
