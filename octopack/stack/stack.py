"""Start, inspect and stop the local stack: S3 (``weed mini``), Ray, every service, the controller.

State lives in ``<dir>/stack.json``: per component its PID, address and log file. Components are
started in their own sessions so they outlive ``octopack up``; ``octopack down`` stops exactly the
PIDs recorded there (never processes found by name).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from octopack.common.catalog import SERVICES as CATALOG
from octopack.common.errors import FailedPrecondition, Unavailable
from octopack.ray_jobs.cluster import PATIENT, SINGLE_MACHINE_ENV, failed_raylet, runtime_started
from octopack.stack import process
from octopack.stack.settings import StackSettings

#: Start order. The services need S3; the controller (last in the catalog) needs everything.
SERVICES = tuple(CATALOG)
COMPONENTS = ("s3", "ray", *SERVICES)


@dataclass
class Component:
    """One running component as recorded in stack.json."""

    name: str
    pid: int
    address: str
    log: str
    kind: str = "grpc"  # grpc | s3 | ray
    extra: dict[str, Any] = field(default_factory=dict)


class Stack:
    """The local stack rooted at ``settings.dir``."""

    def __init__(self, settings: StackSettings | None = None, say: Callable[[str], None] = lambda s: None) -> None:
        self.settings = settings or StackSettings()
        self.dir = self.settings.dir.resolve()
        self.say = say

    # -- state -----------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.dir / "stack.json"

    def load(self) -> dict[str, Component]:
        if not self.state_path.exists():
            return {}
        raw = json.loads(self.state_path.read_text())
        return {name: Component(**doc) for name, doc in raw.get("components", {}).items()}

    def _save(self, components: dict[str, Component]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = {"components": {n: asdict(c) for n, c in components.items()}}
        self.state_path.write_text(json.dumps(doc, indent=2))

    def running(self) -> dict[str, Component]:
        """Recorded components whose process is alive."""
        return {n: c for n, c in self.load().items() if process.alive(c.pid)}

    def healthy(self, name: str = "controller") -> bool:
        comp = self.running().get(name)
        return comp is not None and self._healthy(comp)

    def controller_address(self) -> str:
        comp = self.load().get("controller")
        if comp is None:
            raise FailedPrecondition("the local stack is not running: start it with 'octopack up'")
        return comp.address

    # -- up --------------------------------------------------------------------------------------
    def available(self) -> list[str]:
        """Components this installation can run (a service without its code or Ray without the extra)."""
        names = []
        for name in COMPONENTS:
            if name == "ray" and importlib.util.find_spec("ray") is None:
                continue
            if name in SERVICES and importlib.util.find_spec(CATALOG[name].module) is None:
                continue
            names.append(name)
        return names

    def up(self, only: list[str] | None = None) -> dict[str, Component]:
        """Start every missing component (of ``only``, if given) and wait until each is healthy."""
        wanted = [n for n in COMPONENTS if (only is None or n in only)]
        can = set(self.available())
        comps = self.running()
        for name in wanted:
            if name in comps:
                self.say(f"{name}: already running ({comps[name].address})")
                continue
            if name not in can:
                self.say(f"{name}: skipped (not installed in this environment)")
                continue
            start = time.monotonic()
            comps[name] = self._start(name, comps)
            self._save(comps)
            self._wait(comps[name])
            self.say(f"{name}: up at {comps[name].address} ({time.monotonic() - start:.1f} s)")
        return comps

    def _start(self, name: str, comps: dict[str, Component]) -> Component:
        s = self.settings
        logs = self.dir / "logs"
        if name == "s3":
            return self._start_s3()
        if name == "ray":
            port = s.ray_port or process.free_port()
            dash = s.ray_dashboard_port or process.free_port()
            if process.port_open(s.host, port):
                raise FailedPrecondition(
                    f"ray: port {port} is already in use; set OCTOPACK_STACK_RAY_PORT (0 picks a free port)"
                )
            ray = str(Path(sys.executable).parent / "ray")
            temp_dir = f"/tmp/ray-octopack-{hashlib.sha256(str(self.dir).encode()).hexdigest()[:8]}"
            argv = [
                ray, "start", "--head", "--block", "--node-ip-address", s.host, "--port", str(port),
                "--num-cpus", str(s.ray_cpus), "--disable-usage-stats", "--dashboard-host", s.host, "--dashboard-port", str(dash),
                "--temp-dir", temp_dir,
                # Every port picked here: Ray's fixed defaults (client 10001, agent 52365) collide with a second
                # cluster on the machine, and ports the agents pick themselves the raylet waits for only about
                # 15 s, which a loaded machine misses ("The current node timed out during startup").
                *[arg for flag in ("--ray-client-server-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                                   "--metrics-export-port", "--runtime-env-agent-port")
                  for arg in (flag, str(process.free_port()))],
            ]
            # Ray workers inherit the head's environment: stage code in them needs the S3 settings. Ray's
            # start-up waits are raised (PATIENT), so that a busy machine does not lose the raylet after start.
            env = {**self.s3_env(comps), **self.ray_env(), **PATIENT}
            log = logs / "ray.log"
            offset = log.stat().st_size if log.exists() else 0
            sessions = sorted(str(p) for p in Path(temp_dir).glob("session_2*"))
            pid = process.spawn(argv, log, env)
            return Component("ray", pid, f"{s.host}:{port}", str(log), "ray",
                             {"dashboard": f"{s.host}:{dash}", "log_offset": offset, "temp_dir": temp_dir,
                              "old_sessions": sessions})
        port = getattr(s, f"{name}_port") or process.free_port()
        if process.port_open(s.host, port):
            raise FailedPrecondition(
                f"{name}: port {port} is already in use; stop what holds it or set "
                f"OCTOPACK_STACK_{name.upper()}_PORT (0 picks a free port)"
            )
        info = CATALOG[name]
        env = {**self._common_env(comps), f"{info.prefix}HOST": s.host, f"{info.prefix}PORT": str(port)}
        if name == "controller":
            env.update(self._controller_env(comps))
        argv = [sys.executable, "-m", info.module]
        log = logs / f"{name}.log"
        pid = process.spawn(argv, log, env)
        return Component(name, pid, f"{s.host}:{port}", str(log))

    def _start_s3(self) -> Component:
        from octopack.common.s3server import LocalS3Server

        creds = self.dir / "s3" / "credentials.json"
        creds.parent.mkdir(parents=True, exist_ok=True)
        if not creds.exists():
            creds.write_text(json.dumps({"access_key": "octopack", "secret_key": secrets.token_hex(16)}))
            creds.chmod(0o600)
        keys = json.loads(creds.read_text())
        server = LocalS3Server(
            self.dir / "s3", access_key=keys["access_key"], secret_key=keys["secret_key"], die_with_parent=False
        ).start()
        assert server.pid is not None
        return Component("s3", server.pid, server.address, str(server.log_path), "s3", dict(keys))

    def s3_env(self, comps: dict[str, Component] | None = None) -> dict[str, str]:
        s3 = (comps or self.load()).get("s3")
        if s3 is None:
            return {}
        return {
            "OCTOPACK_S3_ENDPOINT": s3.address,
            "OCTOPACK_S3_ACCESS_KEY": s3.extra["access_key"],
            "OCTOPACK_S3_SECRET_KEY": s3.extra["secret_key"],
            "OCTOPACK_S3_BUCKET": self.settings.s3_bucket,
        }

    def ray_env(self) -> dict[str, str]:
        """What every process of the stack's Ray and every client of it needs.

        The head and its clients stay on loopback: Ray turns a node address of 127.0.0.1 into the
        machine's outside address unless it is told this is a single-machine cluster (no other node
        may join). Ray's token authentication is on with a token kept in the state folder, so another
        user of the machine cannot submit code to the cluster.
        """
        token = self.dir / "ray" / "auth_token"
        if not token.exists():
            token.parent.mkdir(parents=True, exist_ok=True)
            token.touch(mode=0o600)
            token.write_text(secrets.token_hex(32))
        return {
            **SINGLE_MACHINE_ENV,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token),
        }

    def _common_env(self, comps: dict[str, Component]) -> dict[str, str]:
        env = self.s3_env(comps)
        if "ray" in comps:
            env["RAY_ADDRESS"] = comps["ray"].address
            env.update(self.ray_env())
            # Crawls, filter runs and the controller's train/serve/evaluate are Ray jobs (the dashboard's job API).
            dashboard = f"http://{comps['ray'].extra['dashboard']}"
            for prefix in ("OCTOPACK_CRAWLER_", "OCTOPACK_FILTER_"):
                env[f"{prefix}RAY_ADDRESS"] = dashboard
            env["OCTOPACK_CONTROLLER_RAY_DASHBOARD_ADDRESS"] = dashboard
        return env

    def _controller_env(self, comps: dict[str, Component]) -> dict[str, str]:
        def addr(name: str) -> str:
            return comps[name].address if name in comps else ""

        return {
            "OCTOPACK_CONTROLLER_BACKEND": "local",
            "OCTOPACK_CONTROLLER_STORE": "s3",
            "OCTOPACK_CONTROLLER_CRAWLER_ADDRESS": addr("crawler"),
            "OCTOPACK_CONTROLLER_FILTER_ADDRESS": addr("filter"),
            "OCTOPACK_CONTROLLER_DATASETS_ADDRESS": addr("datasets"),
            "OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES": addr("executor"),
            "OCTOPACK_CONTROLLER_RAY_ADDRESS": addr("ray"),
            "OCTOPACK_CONTROLLER_SERVE_GRPC_PORT": str(self.settings.serve_grpc_port),
            "OCTOPACK_CONTROLLER_SERVE_HTTP_PORT": str(self.settings.serve_http_port),
            "OCTOPACK_CONTROLLER_WORK_DIR": str(self.dir / "work"),
            "OCTOPACK_CONTROLLER_RESULTS_DIR": str(self.dir.parent / "results" / "jobs"),
        }

    def _healthy(self, comp: Component) -> bool:
        if comp.kind == "grpc":
            return process.grpc_healthy(comp.address)
        host, port = comp.address.rsplit(":", 1)
        return process.port_open(host, int(port))

    def _started(self, comp: Component) -> bool:
        """Healthy, and for Ray: ``ray start`` reported its runtime started (the raylet registered, after
        the GCS port opened) and the raylet of this start did not fail a check since."""
        if not self._healthy(comp):
            return False
        if comp.kind != "ray":
            return True
        if not runtime_started(Path(comp.log), int(comp.extra.get("log_offset", 0))):
            return False
        old = {Path(p) for p in comp.extra.get("old_sessions", [])}
        raylet = failed_raylet(Path(comp.extra.get("temp_dir", "/nonexistent")), old)
        if raylet is not None:
            raise Unavailable(f"ray: its raylet failed during start-up; see {raylet} and {comp.log}")
        return True

    def _wait(self, comp: Component) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout
        while not self._started(comp):
            if not process.alive(comp.pid):
                raise Unavailable(f"{comp.name} exited during start-up; see its log {comp.log}:\n{_tail(comp.log)}")
            if time.monotonic() > deadline:
                raise Unavailable(f"{comp.name} not healthy after {self.settings.startup_timeout:.0f} s; see {comp.log}")
            time.sleep(0.2)

    # -- down ------------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every recorded component, the controller first; return the names stopped."""
        comps = self.load()
        stopped = []
        for name in reversed(COMPONENTS):
            comp = comps.get(name)
            if comp is None:
                continue
            if process.alive(comp.pid):
                # weed ignores SIGTERM; Ray's --block head stops its cluster on SIGTERM.
                process.stop(comp.pid, hard=comp.kind == "s3", group=True)
                stopped.append(name)
        if self.state_path.exists():
            self.state_path.unlink()
        return stopped

    def grpcurl_examples(self) -> list[str]:
        comps = self.load()
        lines = []
        for name in SERVICES:
            if name in comps:
                lines.append(f"grpcurl -plaintext {comps[name].address} list")
        if "controller" in comps:
            a = comps["controller"].address
            lines += [
                f"grpcurl -plaintext -d '{{\"page_size\": 10}}' {a} octopack.jobs.v1.JobService/ListJobs",
                f"grpcurl -plaintext -d '{{\"job_id\": \"JOB_ID\"}}' {a} octopack.jobs.v1.JobService/WatchJob",
            ]
        return lines


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
