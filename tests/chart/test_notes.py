"""The grpcurl commands NOTES.txt prints after an install work, as printed, against a controller that
requires the release's token (the default), and the token is what lets the job commands through.

Helm renders NOTES.txt only on install; the test renders it with ``helm template`` by copying the chart
and wrapping the file in a ConfigMap. The controller is the real JobService on loopback with a backend
whose stages finish at once (the commands, not the pipeline, are under test).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from octopack.common.server import start_server
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import Backend, StageContext
from octopack.services.controller.server import controller_service
from octopack.services.controller.settings import ControllerSettings
from octopack.services.controller.store import MemoryStore
from tests.chart.conftest import CHART, NAMESPACE, RELEASE, run_helm

pytestmark = pytest.mark.integration
TOKEN = "notes-test-token-0123456789abcdef"


def render_notes(helm: str, tmp_path: Path, *sets: str) -> str:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_rendered.tpl").write_text(
        '{{- define "octopack.notesRendered" -}}\n' + notes + "\n{{- end }}\n")
    (chart / "templates" / "notes-rendered.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        '{{ include "octopack.notesRendered" . | indent 4 }}\n')
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", "templates/notes-rendered.yaml"]
    for item in sets:
        args += ["--set", item]
    proc = run_helm(helm, *args)
    assert proc.returncode == 0, proc.stderr
    return str(yaml.safe_load(proc.stdout)["data"]["notes"])


class Instant(Backend):
    """Every stage succeeds at once."""

    name = "instant"

    def __init__(self) -> None:
        super().__init__({})

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        return jobs_pb2.StageOutputs(details={"stage": ctx.stage})


def grpcurl_lines(notes: str) -> list[str]:
    return [line.strip() for line in notes.splitlines() if line.strip().startswith("grpcurl ")]


async def test_notes_commands_work_against_a_token_protected_controller(
    helm: str, grpcurl: str, tmp_path: Path
) -> None:
    notes = render_notes(helm, tmp_path)
    commands = grpcurl_lines(notes)
    assert [c.rsplit(" ", 1)[-1] for c in commands] == [
        "list", "grpc.health.v1.Health/Check", "octopack.jobs.v1.JobService/ListJobs",
        "octopack.jobs.v1.JobService/SubmitJob", "octopack.jobs.v1.JobService/WatchJob"]
    assert "export TOKEN=$(kubectl -n octopack get secret octopack-auth" in notes

    settings = ControllerSettings(host="127.0.0.1", port=0, auth_token=TOKEN)
    running = await start_server(settings, [controller_service(settings, MemoryStore(), Instant())])
    try:
        def run(command: str, token: str) -> subprocess.CompletedProcess[str]:
            line = command.replace("grpcurl ", f"{grpcurl} ", 1).replace("localhost:50051", running.address)
            return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60,
                                  env={"TOKEN": token, "PATH": "/usr/bin:/bin"})

        job_id = ""
        for command in commands:
            if "<id from the answer>" in command:
                command = command.replace("<id from the answer>", job_id)
            done = await asyncio.to_thread(run, command, TOKEN)
            assert done.returncode == 0, f"{command}\n{done.stderr}"
            if command.endswith("/SubmitJob"):
                job_id = json.loads(done.stdout)["job"]["id"]
            if command.endswith("/WatchJob"):
                assert re.findall(r'"state": "(\w+)"', done.stdout)[-1] == "STATE_SUCCEEDED"
            # Commands that carry the token fail without it; list and health need none.
            if "$TOKEN" in command:
                refused = await asyncio.to_thread(run, command, "wrong")
                assert refused.returncode != 0 and "Unauthenticated" in refused.stderr, refused.stderr
        assert job_id
    finally:
        await running.stop(0)


def test_notes_leave_the_token_out_when_auth_is_off(helm: str, tmp_path: Path) -> None:
    notes = render_notes(helm, tmp_path, "auth.enabled=false")
    assert "TOKEN" not in notes and len(grpcurl_lines(notes)) == 5
