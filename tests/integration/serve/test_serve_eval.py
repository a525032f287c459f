"""``octopack eval --model HOST:PORT`` end to end: a served model's generations are executed and scored."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from octopack.cli.main import main

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(address: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            time.sleep(0.5)
    raise AssertionError("inference server did not become ready")


def test_eval_with_a_served_model(tiny_model: Path, tmp_path: Path) -> None:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = dict(os.environ, OCTOPACK_SERVE_TORCH_THREADS="1", OCTOPACK_SERVE_DEVICE="cpu")
    server = subprocess.Popen(
        # Its HTTP port too: the default (8000) may be a local stack's Serve proxy.
        [sys.executable, "-m", "octopack.cli.main", "serve", str(tiny_model), "--no-ray", "--port", str(port),
         "--http-port", str(_free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_serving(address, server)
        out = tmp_path / "out"
        code = main(["eval", "--task", "synthesize", "--language", "python", "--limit", "5",
                     "--model", address, "--max-new-tokens", "32", "--out", str(out)])
        assert code == 0
        doc = json.loads((out / "results.json").read_text())
        python = doc["languages"]["python"]
        assert python["problems"] == 5
        assert 0.0 <= python["pass@1"] <= 1.0
        assert list(out.glob("*.png"))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _requests(fmt: str, limit: int = 3):
    from octopack.evaluation.prompts import code_prompt
    from octopack.evaluation.runner import _request, select_problems
    from octopack.evaluation.sources import GenerationParams

    params = GenerationParams(n=1, temperature=0.0, max_new_tokens=12)
    problems = select_problems(["python", "js"], limit)
    return [_request(p, "synthesize", "code", code_prompt(p, "synthesize", fmt), params, fmt)
            for ps in problems.values() for p in ps], params


def test_grpc_openai_and_in_process_generations_agree(plain_server) -> None:
    import dataclasses

    from octopack.evaluation.local_generator import LocalGenerator
    from octopack.evaluation.model_generator import ModelGenerator
    from octopack.evaluation.openai_generator import OpenAIGenerator
    from octopack.evaluation.postprocess import clean_continuation

    requests, params = _requests("octocoder")
    plain = dataclasses.replace(params, stop_at_function_end=False)
    grpc_gen = ModelGenerator(plain_server.grpc_address)
    local = LocalGenerator(str(plain_server.model), max_batch_size=8)
    try:
        over_grpc = grpc_gen.generate(requests, plain)
        over_http = OpenAIGenerator(plain_server.base_url, "tiny").generate(requests, plain)
        in_process = local.generate(requests, plain)
        # The function-end stop (the OpenAI API has no such field) cuts the same text short.
        grpc_stopped = grpc_gen.generate(requests, params)
        local_stopped = local.generate(requests, params)
    finally:
        grpc_gen.close()
        local.close()
    assert over_grpc == over_http == in_process
    assert all(len(g) == 1 for g in over_grpc)
    assert grpc_stopped == local_stopped
    for request, stopped, full in zip(requests, grpc_stopped, over_grpc, strict=True):
        assert full[0].startswith(stopped[0])
        assert clean_continuation(stopped[0], request.language) == clean_continuation(full[0], request.language)


def test_chat_format_in_process_uses_the_template(plain_server) -> None:
    from octopack.evaluation.local_generator import LocalGenerator

    requests, params = _requests("chat", limit=1)
    local = LocalGenerator(str(plain_server.model), max_batch_size=4)
    try:
        text = local.prompt_text(requests[0])
        assert requests[0].chat is not None
        assert text.startswith("<|user|>" + requests[0].chat.user + "<|endoftext|>\n<|assistant|>")
        assert text.endswith(requests[0].chat.prefix.strip())
        assert len(local.generate(requests, params)) == len(requests)
    finally:
        local.close()


@pytest.mark.parametrize("fmt", ["octocoder", "chat"])
def test_eval_against_the_openai_api(plain_server, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    code = main(["eval", "--task", "synthesize", "--language", "python", "--limit", "3", "--openai-base-url",
                 plain_server.base_url, "--model", "tiny", "--prompt-format", fmt, "--max-new-tokens", "16",
                 "--temperature", "0", "--no-plot", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["source"] == f"model tiny at {plain_server.base_url}" and doc["prompt_format"] == fmt
    assert doc["languages"]["python"]["problems"] == 3


def test_eval_with_a_model_in_process(tiny_model: Path, tmp_path: Path) -> None:
    code = main(["eval", "--task", "synthesize", "--language", "python", "--limit", "2", "--model-path",
                 str(tiny_model), "--max-new-tokens", "8", "--no-plot", "--out", str(tmp_path)])
    assert code == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["source"] == f"model {tiny_model} (in-process)" and doc["languages"]["python"]["problems"] == 2


def test_endpoint_mistakes_get_clear_messages(plain_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*source: str) -> str:
        code = main(["eval", "--task", "synthesize", "--language", "python", "--limit", "1", *source,
                     "--no-plot", "--out", str(tmp_path)])
        assert code == 2
        return capsys.readouterr().err

    assert "nothing answers at 127.0.0.1:" in run("--model", f"127.0.0.1:{_free_port()}")
    assert "answers HTTP, not gRPC: for an OpenAI-compatible server use --openai-base-url" in run(
        "--model", f"127.0.0.1:{plain_server.http_port}")
    assert "model 'gpt-4' is not served at" in run("--openai-base-url", plain_server.base_url, "--model", "gpt-4")
    assert "no OpenAI-compatible API there" in run(
        "--openai-base-url", f"http://127.0.0.1:{plain_server.http_port}/v2", "--model", "tiny")
    assert "exclude each other" in run("--openai-base-url", plain_server.base_url, "--model-path", "default")
    err = run("--model", plain_server.grpc_address, "--prompt-format", "chat")
    assert "needs the model's chat template" in err and "--openai-base-url" in err
