"""The executor image built with podman, run exactly as the rendered chart runs an executor pod.

No registry image can be pulled here: the base is a debootstrap Debian imported into podman. The
container gets what the chart's Deployment says (user and group, read-only root, dropped
capabilities, no privilege escalation, the seccomp profile, procMount, every volume with its size,
the environment, the resource limits), read from ``helm template`` output, not restated by hand.

Two seccomp profiles stand for a cluster's ``RuntimeDefault``: podman's own (the containers-common
profile CRI-O also uses, which allows user namespaces) and a containerd-equivalent one made from it
(namespace-creating calls only with CAP_SYS_ADMIN, as containerd's default profile has them).

Needs root with podman, runc, catatonit and debootstrap (apt); callers skip with the reason when
they are missing. The Debian root file system and podman's layer cache stay in /var/tmp/octopack-podman.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, tool

WORK = Path("/var/tmp/octopack-podman")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN = "localhost/octopack-debian:bookworm"
PYTHON = "localhost/octopack-python:3.11"
BASE = "localhost/octopack-base:test"
ALL_LANGUAGES = "python js java go cpp rust"
CONTAINERS_CONF = """[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""
#: System calls containerd's default profile allows only with CAP_SYS_ADMIN (clone: without namespace flags).
ADMIN_ONLY = [
    "clone3", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
    "open_tree", "pivot_root", "setns", "umount", "umount2", "unshare",
]
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
MiB = 1024 * 1024
UNITS = {"Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB}


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(WORK / "containers.conf")}


def podman(*args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=env(), check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed:\n{proc.stderr[-3000:]}")
    return proc


def require_podman() -> None:
    missing = [t for t in ("podman", "runc", "debootstrap") if shutil.which(t) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(
            f"needs root with podman, runc and debootstrap (missing: {missing or 'root'}): "
            "apt-get install podman runc catatonit debootstrap"
        )


#: Where the RUN steps see the host's CA bundle (a TLS-inspecting proxy may sit between us and PyPI
#: or npm); not over the image's own bundle, which ca-certificates rewrites while installing.
BUILD_CA = "/run/octopack-host-ca.crt"


def build(dockerfile: str, tag: str, *build_args: str) -> None:
    """Build from the repository root; the host's CA bundle, pip and npm settings reach the RUN steps only."""
    npmrc = WORK / "npmrc"
    mounts = [f"-v={HOST_CA}:{BUILD_CA}:ro", f"-v={WORK / 'pip.conf'}:/etc/pip.conf:ro", f"-v={npmrc}:/root/.npmrc:ro"]
    args = [f"--build-arg={a}" for a in build_args]
    podman("build", "-q", *mounts, *args, "-f", str(ROOT / dockerfile), "-t", tag, str(ROOT), timeout=3600)


def executor_image(languages: str) -> str:
    """octopack-executor built for ``languages`` (one, or several separated by spaces)."""
    require_podman()
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "containers.conf").write_text(CONTAINERS_CONF)
    (WORK / "pip.conf").write_text(f"[global]\ncert = {BUILD_CA}\n")
    (WORK / "npmrc").write_text(f"cafile={BUILD_CA}\n")
    if podman("image", "exists", DEBIAN, check=False).returncode != 0:
        rootfs = WORK / "rootfs"
        if not (rootfs / "usr" / "bin" / "apt-get").exists():
            subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                capture_output=True,
                timeout=1800,
                check=True,
            )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "-", DEBIAN], stdin=tar.stdout, capture_output=True, env=env(), check=True)
        tar.wait()
    build("docker/python-debian.Dockerfile", PYTHON, f"DEBIAN_IMAGE={DEBIAN}")
    build("docker/base.Dockerfile", BASE, f"PYTHON_IMAGE={PYTHON}")
    tag = f"localhost/octopack-executor-{'all' if ' ' in languages else languages}:test"
    build("services/executor/Dockerfile", tag, f"BASE_IMAGE={BASE}", f"PYTHON_IMAGE={PYTHON}", f"LANGUAGE={languages}")
    return tag


# ---- the chart's pod, as podman arguments ------------------------------------------------------------
def rendered_executor(language: str, *values: str) -> dict[str, Any]:
    """The chart's executor Deployment for ``language`` (helm template, default values + ``values``)."""
    sets = [arg for value in values for arg in ("--set", value)]
    out = subprocess.run(
        [tool("helm"), "template", "octopack", str(ROOT / "charts" / "octopack"), *sets],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    for doc in yaml.safe_load_all(out):
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"octopack-executor-{language}":
            return doc
    raise AssertionError(f"no executor Deployment for {language}")


def quantity(value: str | int) -> int:
    text = str(value)
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def containerd_profile(target: Path) -> Path:
    """podman's default profile with what containerd's default withholds from a pod without CAP_SYS_ADMIN."""
    profile = json.loads(Path("/usr/share/containers/seccomp.json").read_text())
    kept = []
    for rule in profile["syscalls"]:
        admin = "CAP_SYS_ADMIN" in rule.get("includes", {}).get("caps", [])
        names = [n for n in rule["names"] if admin or (n not in ADMIN_ONLY and n != "clone")]
        if names:
            kept.append({**rule, "names": names})
    kept.append({"names": [*ADMIN_ONLY, "clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}})
    masked = {"index": 0, "value": NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    kept.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [masked], "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    target.write_text(json.dumps({**profile, "syscalls": kept}))
    return target


def pod_arguments(
    deployment: dict[str, Any], volumes_root: Path, seccomp: Path | None, secrets: dict[tuple[str, str], str]
) -> list[str]:
    """``podman run`` arguments for the Deployment's pod: security, volumes, environment, limits.

    ``secrets``: the value of each (Secret, key) an environment variable takes (``valueFrom.secretKeyRef``).
    """
    spec = deployment["spec"]["template"]["spec"]
    pod_sc = spec.get("securityContext", {})
    (container,) = spec["containers"]
    sc = container["securityContext"]
    user = f"{sc.get('runAsUser', pod_sc['runAsUser'])}:{sc.get('runAsGroup', pod_sc['runAsGroup'])}"
    args = ["--user", user]
    if "fsGroup" in pod_sc:
        args += ["--group-add", str(pod_sc["fsGroup"])]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in sc.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    assert not sc.get("capabilities", {}).get("add"), "the chart adds capabilities"
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    profile = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
    assert profile == "RuntimeDefault", f"seccomp {profile}: only RuntimeDefault is mapped here"
    if seccomp is not None:
        args += ["--security-opt", f"seccomp={seccomp}"]
    if sc.get("procMount") == "Unmasked":
        args += ["--security-opt", "unmask=ALL"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container["volumeMounts"]:
        empty = volumes[mount["name"]]["emptyDir"]
        if empty.get("medium") == "Memory":
            size = quantity(empty["sizeLimit"])
            args += ["--mount", f"type=tmpfs,destination={mount['mountPath']},tmpfs-size={size},tmpfs-mode=1777"]
        else:  # a disk emptyDir is a folder of the node's, mode 0777 as kubelet makes it
            folder = volumes_root / mount["name"]
            folder.mkdir(exist_ok=True)
            folder.chmod(0o777)
            args += ["-v", f"{folder}:{mount['mountPath']}"]
    for item in container["env"]:
        if "value" in item:
            args += ["-e", f"{item['name']}={item['value']}"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) in secrets, f"{item['name']} comes from Secret {ref['name']} key {ref['key']}"
        args += ["-e", f"{item['name']}={secrets[ref['name'], ref['key']]}"]
    limits = container["resources"]["limits"]
    args += ["--memory", str(quantity(limits["memory"])), "--cpus", str(limits["cpu"])]
    return args


class Pod:
    """One executor container started from the chart's Deployment, reachable on a loopback port."""

    def __init__(self, name: str, image: str, deployment: dict[str, Any], seccomp: Path | None, extra: list[str]) -> None:
        self.name = name
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        podman("rm", "-f", name, check=False)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port = container["ports"][0]["containerPort"]
        # What the Secrets the Deployment refers to would hold (the auth token the chart generates).
        refs = {(e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"]): e["name"]
                for e in container["env"] if "valueFrom" in e}
        secrets = {ref: token_hex(16) for ref in refs}
        #: Environment variable -> the value its Secret gave it.
        self.from_secrets = {name: secrets[ref] for ref, name in refs.items()}
        args = pod_arguments(deployment, self.scratch, seccomp, secrets)
        podman("run", "-d", "--name", name, "-p", f"127.0.0.1::{port}", *args, *extra, image)
        mapping = podman("port", name, f"{port}/tcp", check=False).stdout.strip().splitlines()
        self.address = mapping[0].replace("0.0.0.0", "127.0.0.1") if mapping else ""  # "": it exited
        self.pid = int(podman("inspect", "--format", "{{.State.Pid}}", name).stdout)

    def logs(self) -> str:
        return podman("logs", self.name, check=False).stderr[-4000:]

    def exec(self, *argv: str, user: str = "") -> subprocess.CompletedProcess[str]:
        return podman("exec", *(["--user", user] if user else []), self.name, *argv, check=False, timeout=120)

    def exists(self, path: str) -> bool:
        return self.exec("test", "-e", path).returncode == 0

    def wait_serving(self, serving: Any, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not serving():
            if time.monotonic() > deadline or podman("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip() != "true":
                raise AssertionError(f"executor container {self.name} did not serve:\n{self.logs()}")
            time.sleep(0.5)

    def remove(self) -> None:
        podman("rm", "-f", self.name, check=False)
        shutil.rmtree(self.scratch, ignore_errors=True)
