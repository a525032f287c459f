"""Connecting to Ray: a local single-machine instance by default, a cluster address in a RayJob; Ray jobs
submitted by id (and adopted by that id after a restart); a local Ray head on free loopback ports."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable

log = logging.getLogger(__name__)
#: Ray job states that do not change any more.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
#: The environment of every Ray process of a single-machine cluster (the head, and drivers that join it):
#: Ray keeps its listeners on the node address (127.0.0.1) instead of the machine's outside address, and no
#: other node may join. Ray reads it when it is imported, so it is set in a process's environment.
SINGLE_MACHINE_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class RaySettings(BaseSettings):
    """How to reach Ray (``OCTOPACK_RAY_*``)."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_RAY_", extra="ignore")

    address: str = Field(
        "local",
        description="'local' starts a private instance (ignores a stale /tmp/ray cluster file); "
        "'auto' or ray://host:10001 joins a cluster (inside a RayJob).",
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local instance (default: all).")
    node_ip: str = Field("127.0.0.1", description="Node address of a local instance (loopback).")


def ensure_ray(settings: RaySettings | None = None) -> Any:
    """``ray`` initialised once per process with these settings."""
    import ray

    settings = settings or RaySettings()
    if ray.is_initialized():
        return ray
    from octopack.ray_jobs.loopback import HOOK

    # Every worker of this job keeps Serve's listeners on a loopback node's address (see loopback.py).
    kwargs: dict[str, Any] = {
        "address": settings.address, "log_to_driver": True, "runtime_env": {"worker_process_setup_hook": HOOK},
    }
    if settings.address == "local":
        kwargs.update(num_cpus=settings.num_cpus, _node_ip_address=settings.node_ip)
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)
    log.info("ray initialised at %s", settings.address)
    return ray


def join_cluster(address: str) -> Any:
    """``ray`` connected to the cluster at ``address``; FailedPrecondition when this process already
    joined another one (Ray allows one cluster per process: the new address would be ignored)."""
    import ray

    from octopack.common.errors import FailedPrecondition

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        return ray
    current = str(ray.get_runtime_context().gcs_address)
    wanted = address.removeprefix("ray://")
    # "auto" and "local" mean whatever cluster this process runs with.
    if address not in ("auto", "local") and _endpoint(wanted) != _endpoint(current):
        raise FailedPrecondition(
            f"this server is connected to the Ray cluster at {current}; it cannot also run on {address}"
        )
    return ray


def _endpoint(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"{'127.0.0.1' if host in ('localhost', '::1', '[::1]') else host}:{port}"


def dashboard_url(address: str) -> str:
    """``http://host:port`` of a Ray dashboard given as a URL or ``host:port``."""
    address = address.strip().rstrip("/")
    if not address:
        raise FailedPrecondition("no Ray cluster configured: give the address of its dashboard (http://host:8265)")
    if address.startswith("ray://") or address in {"auto", "local"}:
        raise InvalidArgument(
            f"Ray address {address!r}: Ray jobs are submitted to the cluster's dashboard, e.g. http://host:8265"
        )
    return address if "://" in address else f"http://{address}"


@dataclass
class RayJobClient:
    """Ray jobs (the Job Submission API of the dashboard) addressed by submission id.

    :meth:`submit` is idempotent by id: when a job with that id exists (still running, or finished) it is
    left as it is and adopted, so a caller that lost track of its job (a restart) never starts it twice.
    """

    address: str
    _client: Any = field(default=None, repr=False)

    def _jobs(self) -> Any:
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            try:
                self._client = JobSubmissionClient(dashboard_url(self.address))
            except (ConnectionError, OSError) as exc:
                raise Unavailable(f"the Ray dashboard at {self.address} does not answer: {exc}") from exc
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:
            text = str(exc)
            if "does not exist" in text or "404" in text:
                raise NotFound(f"Ray job {args[0] if args else ''} does not exist at {self.address}") from exc
            raise Unavailable(f"Ray job API at {self.address}: {what} failed: {text[:500]}") from exc
        except OSError as exc:  # requests' connection errors are OSErrors
            raise Unavailable(f"the Ray dashboard at {self.address} does not answer: {exc}") from exc

    def status(self, submission_id: str) -> str | None:
        """``PENDING``, ``RUNNING``, ``SUCCEEDED``, ``FAILED`` or ``STOPPED``; None when Ray knows no such job."""
        try:
            return str(self._call("status", self._jobs().get_job_status, submission_id).value)
        except NotFound:
            return None

    def info(self, submission_id: str) -> Any:
        return self._call("info", self._jobs().get_job_info, submission_id)

    def submit(
        self, submission_id: str, entrypoint: str, env: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> bool:
        """Start the job unless one with this id exists; True when this call started it."""
        if self.status(submission_id) is not None:
            return False
        runtime_env = {"env_vars": dict(env or {})}
        try:
            self._call(
                "submit", self._jobs().submit_job, entrypoint=entrypoint, submission_id=submission_id,
                runtime_env=runtime_env, metadata=metadata or {}, entrypoint_num_cpus=0,
            )
        except Unavailable:
            if self.status(submission_id) is not None:
                return False  # a racing caller submitted it first
            raise
        log.info("submitted Ray job %s: %s", submission_id, entrypoint[:200])
        return True

    def stop(self, submission_id: str) -> None:
        """Ask the job to stop (its driver gets SIGTERM, later SIGKILL); nothing when it has ended."""
        if self.status(submission_id) in (None, *TERMINAL):
            return
        self._call("stop", self._jobs().stop_job, submission_id)

    def logs(self, submission_id: str) -> str:
        return str(self._call("logs", self._jobs().get_job_logs, submission_id))

    def delete(self, submission_id: str) -> None:
        """Forget a finished job (its id can then be submitted again)."""
        if self.status(submission_id) in TERMINAL:
            self._call("delete", self._jobs().delete_job, submission_id)


#: ``ray start`` options that take a port: every one gets a free port, so two heads on one machine never meet.
_PORT_OPTIONS = (
    "--port", "--dashboard-port", "--ray-client-server-port", "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port", "--node-manager-port",
    "--object-manager-port",
)


#: Ray's start-up waits, raised for a busy machine: the raylet gives up on a slow dashboard agent (its port
#: file) and on slow workers, which a machine running other heavy work at the same time can make take minutes.
PATIENT = {
    "RAY_agent_register_timeout_ms": "600000",
    "RAY_raylet_start_wait_time_s": "600",
    "RAY_worker_register_timeout_seconds": "600",
    "RAY_gcs_rpc_server_connect_timeout_s": "60",
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runtime_started(log_path: Path, offset: int = 0) -> bool:
    """True when ``ray start``, logging to ``log_path`` from byte ``offset`` on, reported its runtime started
    (the raylet registered, after the GCS port opened)."""
    try:
        with log_path.open("rb") as f:
            f.seek(offset)
            return b"Ray runtime started" in f.read()
    except FileNotFoundError:
        return False


def failed_raylet(temp_dir: Path, old_sessions: set[Path]) -> Path | None:
    """The log of a raylet of a session started after ``old_sessions`` that hit a fatal check, or None.

    The raylet gives its dashboard agent about 15 s to write its port file, which a machine under heavy
    load can miss; ``ray start --block`` does not exit then, so its caller has to look.
    """
    for session in set(temp_dir.glob("session_2*")) - old_sessions:
        raylet = session / "logs" / "raylet.out"
        try:
            if b"Check failed" in raylet.read_bytes():
                return raylet
        except OSError:
            continue
    return None


@dataclass
class LocalRayHead:
    """A Ray head on this machine, every listener on loopback and on a free port (tests, benchmarks).

    ``ray start --head --block`` runs in its own session; :meth:`stop` ends that session's process group
    (the head's raylet, GCS, dashboard and workers), never another Ray on the machine.
    """

    num_cpus: int = 2
    temp_dir: Path = field(default_factory=lambda: Path("/tmp") / f"ray-oct-{os.getpid()}")
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    object_store_bytes: int = 256 * 1024 * 1024
    ports: dict[str, int] = field(default_factory=dict)
    pid: int | None = None
    #: Free ports for Ray Serve's gRPC and HTTP proxies, for callers that start Serve on this head.
    serve_grpc_port: int = field(default_factory=_free_port)
    serve_http_port: int = field(default_factory=_free_port)
    _old_sessions: set[Path] = field(default_factory=set, repr=False)

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.ports['--port']}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.ports['--dashboard-port']}"

    def start(self, timeout: float = 300, attempts: int = 10) -> LocalRayHead:
        """Start the head and wait until its node is up and its job API answers.

        Ray gives its raylet 30 s to register and the raylet gives its dashboard agent about 15 s, which a
        busy machine can miss: a head that exits during start-up, or is not up after ``timeout`` seconds,
        is started again (on new ports), up to ``attempts`` times.
        """
        log_path = self.log_path or self.temp_dir.with_suffix(".log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                started = self._start_once(log_path, timeout)
            except BaseException:  # interrupted (a test timeout, Ctrl-C): leave no half-started head behind
                self.stop()
                raise
            if started:
                return self
            log.warning("the Ray head exited during start-up (attempt %d of %d); see %s", attempt, attempts, log_path)
        raise Unavailable(f"the Ray head did not start in {attempts} attempts; see {log_path}")

    def _start_once(self, log_path: Path, timeout: float) -> bool:
        low = _free_port()
        self.ports = {}
        for opt in _PORT_OPTIONS:
            port = _free_port()
            while low <= port <= low + 200 or port in self.ports.values():
                port = _free_port()
            self.ports[opt] = port
        ray = str(Path(sys.executable).parent / "ray")
        argv = [
            ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1",
            "--num-cpus", str(self.num_cpus), "--disable-usage-stats", "--include-dashboard", "true",
            "--temp-dir", str(self.temp_dir), "--object-store-memory", str(self.object_store_bytes),
            "--min-worker-port", str(low), "--max-worker-port", str(low + 200),
        ]
        for opt, port in self.ports.items():
            argv += [opt, str(port)]
        offset = log_path.stat().st_size if log_path.exists() else 0
        self._old_sessions = set(self.temp_dir.glob("session_2*"))
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", **SINGLE_MACHINE_ENV, **PATIENT, **self.env}
        with log_path.open("ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.pid = proc.pid
        deadline = time.monotonic() + timeout
        client = RayJobClient(self.dashboard)
        while True:
            if proc.poll() is not None:
                self.stop()
                return False
            if runtime_started(log_path, offset):
                try:
                    client._jobs().list_jobs()
                    return True
                except Exception:
                    client._client = None
            if failed_raylet(self.temp_dir, self._old_sessions) or time.monotonic() > deadline:
                # `ray start --block` does not exit when its raylet fails a check: start again
                self.stop()
                return False
            time.sleep(0.5)

    def stop(self) -> None:
        """End the head's process group: SIGTERM (Ray's ``--block`` head then stops its cluster), then SIGKILL."""
        if self.pid is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if not _group_alive(self.pid):
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            deadline = time.monotonic() + wait
            while _group_alive(self.pid) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, os.WNOHANG)
                time.sleep(0.2)
        self.pid = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
