"""The whole local stack listens on loopback only, Ray and Ray Serve included, and its Ray wants a token.

``octopack up`` starts S3, Ray and every service; a driver then starts Ray Serve on the stack's
Ray the way the serve stage does (:func:`ensure_ray`, a gRPC proxy, one replica). Every listening
socket of every process of the stack (found by process tree, read from ``ss -ltnp``) must be
bound to a loopback address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from octopack.stack import process
from octopack.stack.settings import StackSettings
from octopack.stack.stack import Stack

# About two and a half minutes on two cores (the whole stack, then Serve): in the full suite.
pytestmark = [pytest.mark.integration, pytest.mark.ray, pytest.mark.full]

LISTEN = re.compile(r"^LISTEN\s+\d+\s+\d+\s+(?P<local>\S+)\s+\S+\s+users:\((?P<users>.*)\)\s*$")
PIDS = re.compile(r"pid=(\d+)")
DRIVER = textwrap.dedent(
    """
    import sys
    from ray import serve
    from octopack.ray_jobs.cluster import RaySettings, ensure_ray

    ensure_ray(RaySettings(address=sys.argv[1]))
    serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[2])},
                grpc_options={"port": int(sys.argv[3]), "grpc_servicer_functions": [
                    "octopack.inference.v1.inference_pb2_grpc.add_InferenceServiceServicer_to_server"]})

    @serve.deployment
    class Echo:
        def __call__(self, request):
            return "ok"

    serve.run(Echo.bind(), name="loopback", route_prefix="/")
    print("READY", flush=True)
    sys.stdin.read()
    serve.shutdown()
    """
)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _tree(roots: list[int]) -> set[int]:
    children, seen, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return seen


def listeners(pids: set[int]) -> list[tuple[str, str]]:
    """(local address, process) of every listening TCP socket owned by one of ``pids``."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        match = LISTEN.match(line)
        if match is None:
            continue
        owners = {int(p) for p in PIDS.findall(match["users"])}
        if owners & pids:
            name = match["users"].split('"')[1] if '"' in match["users"] else "?"
            found.append((match["local"], name))
    return found


def loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127.")


def test_every_listener_of_the_stack_is_on_loopback(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ports = {f"OCTOPACK_STACK_{n.upper()}_PORT": "0"
             for n in ("controller", "executor", "datasets", "crawler", "filter", "ray", "ray_dashboard")}
    env = {**os.environ, "OCTOPACK_STACK_DIR": str(state), **ports}
    up = subprocess.run([sys.executable, "-m", "octopack.cli.main", "up"], env=env, capture_output=True,
                        text=True, timeout=400)
    driver = None
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        comps = json.loads((state / "stack.json").read_text())["components"]
        assert {"s3", "ray", "datasets", "crawler", "filter", "executor", "controller"} <= set(comps)
        stack = Stack(StackSettings(dir=state))
        ray_env = {**os.environ, **stack.ray_env()}
        # A client without the stack's token is refused by the stack's Ray; with the token it joins (so the
        # refusal is the token's doing, not a Ray that is gone).
        join = [sys.executable, "-c", "import ray, sys; ray.init(address=sys.argv[1]); ray.shutdown()",
                comps["ray"]["address"]]
        refused = subprocess.run(join, env={**ray_env, "RAY_AUTH_MODE": "disabled"}, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode != 0
        joined = subprocess.run(join, env=ray_env, capture_output=True, text=True, timeout=120)
        assert joined.returncode == 0, joined.stderr[-3000:] + Path(comps["ray"]["log"]).read_text()[-3000:]
        http_port, grpc_port = process.free_port(), process.free_port()
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, comps["ray"]["address"], str(http_port), str(grpc_port)],
            env=ray_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert driver.stdout is not None
        lines = []
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("READY"):
                break
        assert lines and lines[-1].startswith("READY"), "".join(lines[-30:])
        found = listeners(_tree([c["pid"] for c in comps.values()] + [driver.pid]))
        ports_seen = {address.rsplit(":", 1)[1] for address, _ in found}
        assert {str(http_port), str(grpc_port), comps["ray"]["address"].rsplit(":", 1)[1]} <= ports_seen
        for name in ("controller", "datasets", "crawler", "filter", "executor"):
            assert comps[name]["address"].rsplit(":", 1)[1] in ports_seen, name
        outside = [(address, name) for address, name in found if not loopback(address)]
        assert outside == [], f"listening beyond loopback: {outside}"
        assert len(found) >= 15, found  # Ray's GCS, raylet, agents, workers, Serve's proxy and replica
        print("\n".join(f"{address:<28} {name}" for address, name in sorted(found)))
    finally:
        if driver is not None:
            try:
                driver.communicate("", timeout=120)
            except subprocess.TimeoutExpired:  # keep the test's own failure, not this one
                driver.kill()
                driver.communicate()
        down = subprocess.run([sys.executable, "-m", "octopack.cli.main", "down"], env=env, capture_output=True,
                              text=True, timeout=180)
        assert down.returncode == 0, down.stderr
