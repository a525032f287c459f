"""Hostile programs in every language against every deployment: each is contained, gets the right
status, leaves nothing behind, sees nothing of the server or its neighbours, and the server lives on.

Deployments: the host with the server as root, the host with the server as an unprivileged user,
and (OCTOPACK_FULL_TESTS=1, podman) the executor image run exactly as the chart runs it, under
CRI-O's and under containerd's default seccomp profile (tests/chart/executor_image.py).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from octopack.executor.v1 import executor_pb2
from tests.integration.executor.executor_server import SECRET, ExecutorServer
from tests.integration.executor.hostile import LANGUAGES, program
from tests.integration.executor.hostile_world import LEFT_OVER

pytestmark = pytest.mark.integration

S = executor_pb2
MiB = 1024 * 1024
#: Java needs room for its heap beyond the JVM's own reservations.
MEMORY = {"java": 2560 * MiB}
LANGS = list(LANGUAGES)
DEPLOYMENTS = {
    "host-root": "executor",
    "host-user": "user_executor",
    "podman-crio": "podman_crio_executor",
    "podman-containerd": "podman_containerd_executor",
}
#: The first podman test builds the image (tens of minutes on a cold layer cache).
PODMAN = [pytest.mark.full, pytest.mark.timeout(5400)]
#: The private places a program may write and its successor must not see.
TEMPORARY = ["/tmp/" + LEFT_OVER, "/var/tmp/" + LEFT_OVER, "/dev/shm/" + LEFT_OVER]
VICTIM = "victim.txt"
#: How long a neighbour must live so that the attacker (built first, then waiting 1 s) meets it.
NEIGHBOUR_SECONDS = {"python": 3, "js": 3, "cpp": 5, "go": 6, "rust": 6, "java": 8}


def victim_program(seconds: float) -> str:
    return f"""import os, time
open({VICTIM!r}, 'w').write('intact')
time.sleep({seconds})
assert open({VICTIM!r}).read() == 'intact', 'replaced by a neighbour'
assert sorted(os.listdir('.')) == ['main.py', {VICTIM!r}], os.listdir('.')
print('intact')
"""


#: Languages the non-root deployment runs by default (all six with OCTOPACK_FULL_TESTS=1).
USER_SAMPLE = {"python", "cpp"}
FULL = os.environ.get("OCTOPACK_FULL_TESTS") == "1"


@pytest.fixture(
    params=[
        "host-root",
        pytest.param("host-user", marks=pytest.mark.skipif(os.geteuid() != 0, reason="creates a user; run as root")),
        pytest.param("podman-crio", marks=PODMAN),
        pytest.param("podman-containerd", marks=PODMAN),
    ],
)
def target(request: pytest.FixtureRequest) -> Iterator[ExecutorServer]:
    language = request.node.callspec.params.get("language")
    if request.param == "host-user" and language and language not in USER_SAMPLE and not FULL:
        pytest.skip(f"host-user runs {sorted(USER_SAMPLE)} by default; all six with OCTOPACK_FULL_TESTS=1")
    server: ExecutorServer = request.getfixturevalue(DEPLOYMENTS[request.param])
    yield server
    assert server.serving(), f"{server.label}: the executor died"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP server that no program should reach."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def prog(language: str, source: str, pid: str = "", **limits: float) -> executor_pb2.Program:
    return S.Program(
        language=LANGUAGES[language],  # type: ignore[arg-type]
        source=source,
        id=pid or f"hostile-{language}",
        limits=S.Limits(**limits),
    )


def run(server: ExecutorServer, language: str, source: str, **limits: float) -> executor_pb2.Result:
    request = S.ExecuteRequest(program=prog(language, source, **limits))
    return server.stub().Execute(request, timeout=300).result


def batch(server: ExecutorServer, *programs: executor_pb2.Program) -> list[executor_pb2.Result]:
    return list(server.stub().ExecuteBatch(S.ExecuteBatchRequest(programs=programs), timeout=300).results)


def lines(result: executor_pb2.Result, word: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith(word + " ")]


def protection(server: ExecutorServer, name: str) -> executor_pb2.Protection:
    caps = server.stub().GetCapabilities(S.GetCapabilitiesRequest(), timeout=30)
    return next(p for p in caps.protections if p.name == name)


def contained(server: ExecutorServer) -> None:
    assert server.serving(), f"{server.label}: the executor died"
    left: list[str] = []
    for _ in range(50):  # the program's init may still be tearing its namespaces down
        left = server.leftovers()
        if not left:
            break
        time.sleep(0.1)
    assert left == [], f"{server.label}: processes outlived their program"
    again = run(server, "python", "print('still here')")
    assert again.status == S.STATUS_PASSED and again.stdout == "still here\n", again


# ---- resources ------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGS)
def test_fork_bomb(target: ExecutorServer, language: str) -> None:
    result = run(target, language, program(language, "fork_bomb"), timeout_seconds=3, max_processes=32)
    # It spins until the wall clock, or its runtime gives up when it cannot start a thread (JVM).
    assert result.status in (S.STATUS_TIMEOUT, S.STATUS_RUNTIME_ERROR), result
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_memory_bomb(target: ExecutorServer, language: str) -> None:
    memory = MEMORY.get(language, 1024 * MiB)
    result = run(target, language, program(language, "memory_bomb"), timeout_seconds=20, memory_bytes=memory)
    assert result.status == S.STATUS_MEMORY_LIMIT, result
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_infinite_loop(target: ExecutorServer, language: str) -> None:
    result = run(target, language, program(language, "infinite_loop"), timeout_seconds=2)
    assert result.status == S.STATUS_TIMEOUT, result
    assert result.exit_code == -9
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_unbounded_output(target: ExecutorServer, language: str) -> None:
    cap = 64 * 1024
    result = run(target, language, program(language, "output_flood"), timeout_seconds=10, max_output_bytes=cap)
    assert result.status == S.STATUS_OUTPUT_LIMIT, result
    assert result.stdout_truncated and len(result.stdout.encode()) <= cap
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_sleep_past_timeout(target: ExecutorServer, language: str) -> None:
    result = run(target, language, program(language, "sleep"), timeout_seconds=2)
    assert result.status == S.STATUS_TIMEOUT, result
    assert result.run_seconds < 30
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_filling_the_disk_is_disk_limit(target: ExecutorServer, language: str) -> None:
    if not protection(target, "disk_limit").enforced:
        pytest.skip(f"{target.label} enforces no disk limit (GetCapabilities says so)")
    result = run(
        # 64 MiB: room for the build (a Rust test binary against Debian's std is 18 MiB), then the run fills it.
        target, language, program(language, "fill_disk"), timeout_seconds=30, max_disk_bytes=64 * MiB, max_file_bytes=8 * MiB
    )
    assert result.status == S.STATUS_DISK_LIMIT, result
    after = run(target, "python", "import os; print(sorted(os.listdir('.')))")
    assert after.stdout == "['main.py']\n", after
    contained(target)


# ---- files ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGS)
def test_nothing_outside_the_work_directory_is_writable(target: ExecutorServer, language: str) -> None:
    outside = [
        "/usr/octopack-pwned",
        "/etc/octopack-pwned",
        "/opt/octopack/octopack-pwned",
        f"{target.work_root}/octopack-pwned",
        os.path.dirname(target.secret_files[0]) + "/octopack-pwned",
    ]
    result = run(target, language, program(language, "leave_files", paths=":".join(outside)))
    assert result.status not in (S.STATUS_SANDBOX_ERROR, S.STATUS_COMPILE_ERROR), result
    tried = lines(result, "denied") + lines(result, "wrote")
    assert all(p in tried for p in outside), result.stdout
    # Refused, or (in namespaces mode, where /work is the program's own tmpfs) written where the
    # server never sees it.
    assert [p for p in outside if target.exists(p)] == []
    assert all(p == "/work/octopack-pwned" for p in lines(result, "wrote") if p in outside), result.stdout
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_no_file_survives_into_the_next_program(target: ExecutorServer, language: str) -> None:
    paths = ":".join(TEMPORARY)
    left = run(target, language, program(language, "leave_files", paths=paths))
    assert left.status not in (S.STATUS_SANDBOX_ERROR, S.STATUS_COMPILE_ERROR), left
    assert lines(left, "wrote"), left.stdout  # at least $HOME and the work directory
    # Two successors at once: one in each slot.
    finders = [prog(language, program(language, "find_files", paths=paths), pid=f"find-{i}") for i in range(2)]
    for found in batch(target, *finders):
        assert found.status not in (S.STATUS_SANDBOX_ERROR, S.STATUS_COMPILE_ERROR), found
        assert lines(found, "found") == [], found.stdout
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_a_neighbours_files_are_out_of_reach(target: ExecutorServer, language: str) -> None:
    root = target.work_root
    guesses = [f"{root}/slot-{i}/w/{VICTIM}" for i in range(2)] + [f"../../slot-{i}/w/{VICTIM}" for i in range(2)]
    guesses += [f"/tmp/{VICTIM}", f"/work/{VICTIM}", f"../{VICTIM}"]
    attacker = program(language, "attack_neighbour", paths=":".join(guesses), victim=VICTIM)
    neighbour = victim_program(NEIGHBOUR_SECONDS[language])
    victim, attack = batch(target, prog("python", neighbour, pid="victim"), prog(language, attacker, pid="attacker"))
    assert victim.status == S.STATUS_PASSED and victim.stdout == "intact\n", victim
    assert attack.status not in (S.STATUS_SANDBOX_ERROR, S.STATUS_COMPILE_ERROR), attack
    assert lines(attack, "replaced") == [], attack.stdout
    found = lines(attack, "found")
    if "can still be stat-ed" in protection(target, "private_files").how:
        # Landlock governs reads and writes, not metadata: a path guessed right is seen to exist, no more.
        assert set(found) <= set(guesses), attack.stdout
    else:
        assert found == [], attack.stdout
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_the_servers_secrets_stay_hidden(target: ExecutorServer, language: str) -> None:
    result = run(target, language, program(language, "read_secrets", paths=":".join(target.secret_files)))
    assert result.status not in (S.STATUS_SANDBOX_ERROR, S.STATUS_COMPILE_ERROR), result
    seen = result.stdout + result.stderr
    assert "PATH" in seen  # it did print its environment
    assert all(path in seen for path in target.secret_files)  # and tried every file
    assert SECRET not in seen
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    contained(target)


# ---- processes and network -----------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGS)
def test_signals_reach_nothing_outside_the_program(target: ExecutorServer, language: str) -> None:
    sleeper = f"import time\ntime.sleep({NEIGHBOUR_SECONDS[language]})\nprint('alive')\n"
    killer = program(language, "signal_everyone", server_pid=target.root_pid)
    victim, attack = batch(target, prog("python", sleeper, pid="sleeper"), prog(language, killer, pid="killer"))
    assert victim.status == S.STATUS_PASSED and victim.stdout == "alive\n", victim
    assert attack.status != S.STATUS_SANDBOX_ERROR, attack
    contained(target)


@pytest.mark.parametrize("language", LANGS)
def test_network_is_unreachable(target: ExecutorServer, listener: socket.socket, language: str) -> None:
    # A listener of the test's, and the executor's own gRPC port beside the programs.
    for port in (listener.getsockname()[1], target.internal_port):
        result = run(target, language, program(language, "network", port=port), timeout_seconds=10)
        assert result.status in (S.STATUS_FAILED, S.STATUS_RUNTIME_ERROR), (port, result)
    with pytest.raises(BlockingIOError):
        listener.accept()
    contained(target)


def test_no_datagram_leaves_either(target: ExecutorServer) -> None:
    if not protection(target, "network").enforced:
        pytest.skip(f"{target.label}: no network namespace; the pod's NetworkPolicy stops UDP there")
    code = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('1.1.1.1', 53))\n"
    result = run(target, "python", code)
    assert result.status == S.STATUS_RUNTIME_ERROR and "Network is unreachable" in result.stderr, result
