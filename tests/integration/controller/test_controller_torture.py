"""The restart torture: SIGKILL the controller at random points of every stage of a real job, round after
round, each on loopback, and check that restarts are exact.

Every component is real and a process of its own: the controller (killed and started again), the
crawler and filter services, a Python executor, S3, and a Ray head on which the crawl and filter drivers,
training (Ray Train on a tiny model), serving (Ray Serve) and evaluation run as Ray jobs. After each
round the job must have reached the state it reaches without kills, every output must have exactly one
version, each stage's work must have run once (counted in the services: crawl and filter run records and
their driver launches, the Ray jobs of train, serve and evaluate), and nothing may be left behind
(uncommitted staging areas, runs of other attempts, Ray jobs still running, the Serve application).

The default suite runs one round (one kill per stage); OCTOPACK_FULL_TESTS=1 runs more rounds with more
kills and a job that fails, whose end must not change either.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from controller_procs import ControllerProcess, ServiceProcess, make_repo, service_runs

from octopack.common.objectstore import ObjectStore
from octopack.datasets.store import DatasetStore
from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from octopack.ray_jobs.cluster import TERMINAL, RayJobClient

#: A whole job (a Ray Train run, a Serve deployment) and its restarts take longer than one test's default limit.
pytestmark = [pytest.mark.integration, pytest.mark.ray, pytest.mark.timeout(2400)]
S = jobs_pb2.State
STAGES = ("crawl", "filter", "train", "serve", "evaluate")
#: Upper bound of the random pause after a stage starts before the kill (about the stage's length here).
PAUSE = {"crawl": 12.0, "filter": 12.0, "train": 25.0, "serve": 25.0, "evaluate": 12.0}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="needs the [train] extra")
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("octopack.services.executor", "OCTOPACK_EXECUTOR_",
                          {"OCTOPACK_EXECUTOR_LANGUAGE": "python", "OCTOPACK_EXECUTOR_CONCURRENCY": "1"},
                          tmp_path / "executor.log").start()
    yield proc
    proc.stop()


@pytest.fixture
def torture_env(controller_env: dict[str, str], executor: ServiceProcess, ray_head) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **controller_env,
        "OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES": f"python={executor.address}",
        "OCTOPACK_CONTROLLER_SERVE_GRPC_PORT": str(ray_head.serve_grpc_port),
        "OCTOPACK_CONTROLLER_SERVE_HTTP_PORT": str(ray_head.serve_http_port),
    }


def full_job(repo: Path, model: Path) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(
        name="torture",
        crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)], licenses=["mit"]),
        filter=jobs_pb2.FilterConfig(config_yaml="token_length: {enabled: false}"),
        train=jobs_pb2.TrainConfig(base_model=str(model), max_steps=2, seq_len=64, batch_size=2, num_workers=1,
                                   min_samples=1000),
        serve=jobs_pb2.ServeConfig(max_new_tokens=8),
        evaluate=jobs_pb2.EvaluateConfig(languages=["python"], limit=1, max_new_tokens=8),
        retry=jobs_pb2.RetryPolicy(max_attempts=2, initial_backoff_seconds=1),
    )


def failing_job(tmp_path: Path) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(
        name="torture-fails", crawl=jobs_pb2.CrawlConfig(repositories=[str(tmp_path / "no-such-repository")]),
        filter=jobs_pb2.FilterConfig(config_yaml="token_length: {enabled: false}"),
        retry=jobs_pb2.RetryPolicy(max_attempts=2, initial_backoff_seconds=1),
    )


@dataclass
class Round:
    """What one round did and found."""

    job: jobs_pb2.Job
    kills: Counter[str] = field(default_factory=Counter)
    versions: dict[str, int] = field(default_factory=dict)
    runs: dict[str, dict[str, int]] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)


class Torture:
    """Drives controllers on one bucket: start, kill at random points, start again."""

    def __init__(self, env: dict[str, str], logs: Path, rng: random.Random) -> None:
        self.env = env
        self.logs = logs
        self.rng = rng
        self.controller = ControllerProcess(env, logs / "controller.log").start()

    @property
    def stub(self) -> jobs_pb2_grpc.JobServiceStub:
        return jobs_pb2_grpc.JobServiceStub(self.controller.channel())

    def get(self, job_id: str) -> jobs_pb2.Job:
        return self.stub.GetJob(jobs_pb2.GetJobRequest(job_id=job_id), timeout=30).job

    def wait(self, job_id: str, ready: Callable[[jobs_pb2.Job], bool], timeout: float = 600) -> jobs_pb2.Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if ready(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not get there in {timeout:.0f} s: {self.get(job_id)}")

    def still_running(self, job_id: str, index: int, pause: float) -> bool:
        """Wait ``pause`` seconds; True when stage ``index`` is still running then (so a kill lands in it)."""
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            if self.get(job_id).stages[index].state != S.STATE_RUNNING:
                return False
        return True  # the last look came at the deadline

    def kill_and_restart(self) -> None:
        self.controller.kill()
        self.controller = ControllerProcess(self.env, self.logs / "controller.log").start()

    def run(self, spec: jobs_pb2.JobSpec, kills_per_stage: int, pause_scale: float = 1.0
            ) -> tuple[jobs_pb2.Job, Counter[str]]:
        """Run ``spec``, killing the controller up to ``kills_per_stage`` times in each stage, each after a
        random pause of up to ``pause_scale * PAUSE[stage]`` into it."""
        job_id = self.stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec)).job.id
        kills: Counter[str] = Counter()
        for index, stage in enumerate(STAGES[: len(spec_stages(spec))]):
            for _ in range(kills_per_stage):
                job = self.wait(job_id, lambda j, i=index: j.state in TERMINAL_STATES
                                or j.stages[i].state in (S.STATE_RUNNING, S.STATE_SUCCEEDED, S.STATE_FAILED))
                if job.stages[index].state != S.STATE_RUNNING:
                    break  # the stage is over before this kill: the next stage's kills follow
                if not self.still_running(job_id, index, self.rng.uniform(0, pause_scale * PAUSE[stage])):
                    break  # the stage ended during the pause: no kill of it, the next stage's kills follow
                self.kill_and_restart()
                kills[stage] += 1
        final = self.wait(job_id, lambda j: j.state in TERMINAL_STATES)
        return final, kills

    def stop(self) -> None:
        self.controller.stop()


TERMINAL_STATES = (S.STATE_SUCCEEDED, S.STATE_FAILED, S.STATE_CANCELLED)


def spec_stages(spec: jobs_pb2.JobSpec) -> list[str]:
    return [name for name in STAGES if spec.HasField(name)]



def ray_jobs(ray: RayJobClient, job_id: str) -> dict[str, str]:
    """Submission id -> status of every Ray job of ``job_id`` (drivers of crawls and filter runs included)."""
    return {j.submission_id: str(j.status.value) for j in ray._jobs().list_jobs()
            if (j.submission_id or "").startswith(f"{job_id}-")}


def inspect(job: jobs_pb2.Job, store: DatasetStore, ray: RayJobClient) -> Round:
    found = Round(job)
    for stage in ("crawl", "filter"):
        name = f"{job.id}-{stage}"
        found.versions[name] = len(store.list_versions(name))
        for version in store.objects.list_prefixes(store.dataset_prefix(name)):
            # Objects without a manifest; SeaweedFS keeps listing a folder whose objects were all deleted.
            if (not version.startswith("_") and not store.objects.exists(store.manifest_key(name, version))
                    and store.objects.list_keys(store.version_prefix(name, version))):
                found.orphans.append(f"uncommitted {name}@{version}")
    from octopack.models.resolve import open_registry

    found.versions[f"{job.id}-model"] = len(open_registry(store.objects.settings).versions(f"{job.id}-model"))
    found.runs["crawler"] = service_runs(store.objects, "crawler", job.id)
    found.runs["filter"] = service_runs(store.objects, "filter", job.id)
    found.runs["ray"] = ray_jobs(ray, job.id)
    found.orphans += [f"Ray job {sid} still {status}" for sid, status in found.runs["ray"].items()
                      if status not in TERMINAL]
    return found


def serve_apps(address: str) -> list[str]:
    """Names of the Serve applications on the Ray head (read in a child process: this one stays Ray-free)."""
    code = (f"import json, ray; from ray import serve; ray.init(address={address!r}, log_to_driver=False); "
            "print(json.dumps(list(serve.status().applications)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert out.returncode == 0, out.stderr[-2000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def check_full_round(found: Round) -> None:
    job = found.job
    j = job.id
    assert job.state == S.STATE_SUCCEEDED, [(st.kind, st.message) for st in job.stages]
    assert [st.attempts for st in job.stages] == [1] * len(STAGES), "an attempt was started again"
    assert found.versions == {f"{j}-crawl": 1, f"{j}-filter": 1, f"{j}-model": 1}
    assert found.runs["crawler"] == {f"{j}-crawl-1": 1} and found.runs["filter"] == {f"{j}-filter-1": 1}
    assert sorted(found.runs["ray"]) == sorted(
        [f"{j}-crawl-1.d1", f"{j}-filter-1.d1", f"{j}-train-1", f"{j}-serve-1", f"{j}-evaluate-1"])
    assert set(found.runs["ray"].values()) == {"SUCCEEDED"}
    assert found.orphans == []
    evaluation = job.stages[-1].outputs.evaluation
    assert [s.language for s in evaluation.scores] == ["python"] and evaluation.scores[0].problems == 1


def torture(env: dict[str, str], tmp_path: Path, model: Path, ray_head: Any, s3_settings: Any, rounds: int,
            kills_per_stage: int, with_failing: bool, seed: int, pause_scale: float = 1.0) -> list[Round]:
    rng = random.Random(seed)
    store = DatasetStore(ObjectStore(s3_settings))
    ray = RayJobClient(ray_head.dashboard)
    runner = Torture(env, tmp_path, rng)
    report: list[Round] = []
    try:
        for number in range(rounds):
            (tmp_path / f"round-{number}").mkdir()
            repo = make_repo(tmp_path / f"round-{number}", 6)
            final, kills = runner.run(full_job(repo, model), kills_per_stage, pause_scale)
            found = inspect(final, store, ray)
            found.kills = kills
            check_full_round(found)
            assert f"{final.id}" not in serve_apps(ray_head.gcs_address), "the Serve application was left behind"
            report.append(found)
            if with_failing:
                failed, kills = runner.run(failing_job(tmp_path), 1)
                found = inspect(failed, store, ray)
                found.kills = kills
                assert failed.state == S.STATE_FAILED and [st.state for st in failed.stages] == [
                    S.STATE_FAILED, S.STATE_CANCELLED]
                # A missing repository is a permanent error (NOT_FOUND): the stage fails at its first attempt,
                # however many the policy allows, and a kill in between does not turn it into a retry.
                assert failed.stages[0].attempts == 1
                assert found.versions[f"{failed.id}-crawl"] == 0 and found.orphans == []
                # Each failed attempt's run was cancelled at the end: its staging area is gone.
                prefix = store.dataset_prefix(f"{failed.id}-crawl")
                # Only the dataset's own records (its version counter, its runs' records) remain: no version.
                assert [k for k in store.objects.list_keys(prefix) if not k[len(prefix):].startswith("_")] == []
                report.append(found)
    finally:
        runner.stop()
    print_report(report)
    return report


def print_report(report: list[Round]) -> None:
    print("\nrestart torture:")
    for number, found in enumerate(report):
        job = found.job
        print(f"  round {number}: {job.spec.name} {S.Name(job.state)}; kills {dict(found.kills)}; "
              f"versions {found.versions}; crawler runs {found.runs['crawler']}; filter runs {found.runs['filter']}; "
              f"Ray jobs {len(found.runs['ray'])} ({sorted(found.runs['ray'])}); orphans {found.orphans}")


def test_restarts_are_exact_under_kills_in_every_stage(
    torture_env: dict[str, str], tmp_path: Path, tiny_model: Path, ray_head, s3_settings  # type: ignore[no-untyped-def]
) -> None:
    # Early kills (within the first tenth of each stage's usual length): on a fast machine a pause as long as
    # the stage would often come after its end, and the round would test fewer restarts.
    report = torture(torture_env, tmp_path, tiny_model, ray_head, s3_settings, rounds=1, kills_per_stage=1,
                     with_failing=False, seed=11, pause_scale=0.1)
    assert sum(report[0].kills.values()) >= 3  # most stages were still running when their kill came


@pytest.mark.full
@pytest.mark.timeout(7200)
def test_restart_torture_many_rounds(
    torture_env: dict[str, str], tmp_path: Path, tiny_model: Path, ray_head, s3_settings  # type: ignore[no-untyped-def]
) -> None:
    report = torture(torture_env, tmp_path, tiny_model, ray_head, s3_settings, rounds=4, kills_per_stage=2,
                     with_failing=True, seed=2024)
    kills = Counter()
    for found in report:
        kills.update(found.kills)
    assert set(kills) == set(STAGES), f"some stage was never killed: {dict(kills)}"
