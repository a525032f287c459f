"""The slot's warm javac: ``toolchains/JavacServer.java`` in a JVM of its own, spoken to over a socket.

Standard library only (the slot supervisor imports it inside the sandbox). The JVM is started by
the supervisor's outer process, before the programs' PID namespace exists (namespaces mode), or
by the supervisor outside every program's Landlock domain (landlock mode): no program can see,
signal or trace it. It reads a program's source from memory and returns the class files; it never
touches a program's files. A compile that outlives its budget ends the slot (the server starts a
fresh one), since a stuck compiler cannot be interrupted.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import time

#: A class to compile at start, so that the first program does not pay for the JIT's warm-up.
WARM_UP = (
    "public class Main { public static void main(String[] a) { System.out.println(java.util.List.of(1)); } }"
)


class JavacGone(Exception):
    """The compiler process died or did not answer in time."""


class Javac:
    def __init__(self, argv: list[str]) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        actions = [(os.POSIX_SPAWN_DUP2, theirs.fileno(), 0), (os.POSIX_SPAWN_DUP2, theirs.fileno(), 1)]
        self.pid = os.posix_spawn(
            argv[0], argv, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, file_actions=actions
        )
        theirs.close()
        self.sock.sendall(self._request(["-nowarn"], "Main.java", WARM_UP))
        self.pending = True  # the warm-up's reply is read before the first real one

    @staticmethod
    def _request(options: list[str], name: str, text: str) -> bytes:
        def string(value: str) -> bytes:
            data = value.encode("utf-8", errors="surrogatepass")
            return struct.pack(">i", len(data)) + data

        return struct.pack(">i", len(options)) + b"".join(map(string, options)) + string(name) + string(text)

    def _read(self, size: int, deadline: float) -> bytes:
        data = b""
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise JavacGone("javac did not answer in time")
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise JavacGone("javac exited")
            data += chunk
        return data

    def _reply(self, deadline: float) -> tuple[int, str, list[tuple[str, bytes]]]:
        def integer() -> int:
            return int(struct.unpack(">i", self._read(4, deadline))[0])

        def blob() -> bytes:
            return self._read(integer(), deadline)

        status = integer()
        diagnostics = blob().decode("utf-8", errors="replace")
        classes = [(blob().decode(), blob()) for _ in range(integer())]
        return status, diagnostics, classes

    def warmed(self, timeout: float = 120) -> None:
        """Wait for the warm-up's reply (once; before a forked process may use the compiler)."""
        if self.pending:
            try:
                self._reply(time.monotonic() + timeout)
            except OSError as exc:
                raise JavacGone(str(exc)) from exc
            self.pending = False

    def compile(
        self, options: list[str], name: str, text: str, timeout: float
    ) -> tuple[int, str, list[tuple[str, bytes]]]:
        """(status 0 compiled / 1 errors / 2 compiler failure, diagnostics, class files)."""
        self.warmed()
        deadline = time.monotonic() + timeout
        try:
            self.sock.sendall(self._request(options, name, text))
            return self._reply(deadline)
        except OSError as exc:
            raise JavacGone(str(exc)) from exc

    def close(self) -> None:
        """Stop the JVM; only from the process that started it (its PID means nothing elsewhere)."""
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
