"""The Ray Serve application: gRPC through Serve's proxy (reflection, grpcurl), batching, errors, HTTP.

One local Ray instance and one Serve application for the whole module (start-up costs ~15 s).
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def serve_app(tiny_model: Path):
    import ray
    from ray import serve

    from octopack.ray_jobs.cluster import RaySettings
    from octopack.ray_jobs.serve.app import start
    from octopack.ray_jobs.serve.settings import ServeSettings

    settings = ServeSettings(model=str(tiny_model), port=free_port(), http_port=free_port(), device="cpu",
                             max_batch_size=32, batch_wait_ms=20, torch_threads=1, replica_cpus=0.5)
    start(settings, ray_settings=RaySettings(num_cpus=2))
    try:
        yield settings
    finally:
        serve.shutdown()
        ray.shutdown()


def _stub(settings) -> inference_pb2_grpc.InferenceServiceStub:
    return inference_pb2_grpc.InferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{settings.port}"))


def test_grpcurl_lists_and_calls_the_service(serve_app, grpcurl: str) -> None:
    address = f"127.0.0.1:{serve_app.port}"
    listed = subprocess.run([grpcurl, "-plaintext", address, "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "octopack.inference.v1.InferenceService" in listed.stdout.split()
    body = json.dumps({"prompts": ["def add(a, b):"], "params": {"max_new_tokens": 5, "seed": 1,
                                                                 "temperature": 0.5}})
    out = subprocess.run([grpcurl, "-plaintext", "-d", body, address,
                          "octopack.inference.v1.InferenceService/Generate"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == str(serve_app.model)


def test_sixteen_concurrent_grpc_calls_are_batched(serve_app) -> None:
    stub = _stub(serve_app)
    request = pb.GenerateRequest(prompts=["def f(x):"], params=pb.SamplingParams(max_new_tokens=24))
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: stub.Generate(request, timeout=120), range(16)))
    assert len({r.completions[0].samples[0].text for r in replies}) == 1  # greedy: same prompt, same text
    stats = stub.GetServerStats(pb.GetServerStatsRequest(), timeout=30)
    assert stats.requests >= 16
    assert stats.max_batch_size > 1, dict(stats.batch_sizes)


def test_streaming_and_invalid_argument(serve_app) -> None:
    stub = _stub(serve_app)
    pieces = list(stub.GenerateStream(pb.GenerateStreamRequest(prompts=["import os"],
                                                               params=pb.SamplingParams(max_new_tokens=6)),
                                      timeout=60))
    assert pieces and pieces[-1].finish_reason in ("length", "eos")
    with pytest.raises(grpc.RpcError) as err:
        stub.Generate(pb.GenerateRequest(prompts=["x"], params=pb.SamplingParams(temperature=-0.5)), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "temperature" in err.value.details()


def test_http_generate(serve_app) -> None:
    url = f"http://127.0.0.1:{serve_app.http_port}/generate"
    body = json.dumps({"prompts": ["def add(a, b):"], "params": {"maxNewTokens": 4}}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, body, method="POST"), timeout=60) as reply:
        doc = json.loads(reply.read())
    assert len(doc["completions"]) == 1
    bad = json.dumps({"prompts": [""]}).encode()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url, bad, method="POST"), timeout=60)
    assert err.value.code == 400


def test_openai_api_through_the_serve_proxy(serve_app) -> None:
    openai = pytest.importorskip("openai", reason="the openai client is in the dev extra")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{serve_app.http_port}/v1", api_key="unused", max_retries=0,
                           timeout=120)
    name = client.models.list().data[0].id
    assert name == str(serve_app.model)
    reply = client.completions.create(model=name, prompt="def add(a, b):", max_tokens=6, temperature=0)
    expected = _stub(serve_app).Generate(
        pb.GenerateRequest(prompts=["def add(a, b):"], params=pb.SamplingParams(max_new_tokens=6)), timeout=120)
    assert reply.choices[0].text == expected.completions[0].samples[0].text
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=name, prompt="def add(a, b):", max_tokens=6, temperature=0, stream=True))
    assert streamed == reply.choices[0].text
    with pytest.raises(openai.BadRequestError) as err:  # the tiny model has no chat template
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
    assert "chat template" in err.value.body["message"]


def test_eval_names_the_serve_application(serve_app) -> None:
    """Last in this module: it deploys a second application, then deletes both."""
    from ray import serve

    from octopack.common.errors import FailedPrecondition, NotFound
    from octopack.evaluation.model_generator import ModelGenerator
    from octopack.ray_jobs.serve.app import build_app

    address = f"127.0.0.1:{serve_app.port}"
    ModelGenerator(address).check()  # one application: Serve routes to it without metadata
    other = serve_app.model_copy(update={"app_name": "other", "replica_cpus": 0.25})
    serve.run(build_app(other), name="other", route_prefix="/other")
    with pytest.raises(FailedPrecondition, match=r"2 applications \(.*octopack-inference.*other.*--application NAME"):
        ModelGenerator(address).check()
    ModelGenerator(address, application="other").check()
    with pytest.raises(NotFound, match="no Ray Serve application 'nope'; it has"):
        ModelGenerator(address, application="nope").check()
    serve.delete("other")
    serve.delete(serve_app.app_name)
    with pytest.raises(FailedPrecondition, match="Ray Serve proxy with no application deployed"):
        ModelGenerator(address).check()
