"""The OpenAI-compatible API of ``octopack serve --no-ray``, driven by the official ``openai`` client.

One server process (a tiny model with a chat template, served as ``tiny``) for the module; every
answer is checked against the same model's gRPC answer or against the API's own rules.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import pytest

from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc
from tests.integration.serve.plain import start_plain_server, stop_plain_server

openai = pytest.importorskip("openai", reason="the openai client is in the dev extra")

pytestmark = [pytest.mark.integration, pytest.mark.ray]


@pytest.fixture(scope="module")
def client(plain_server):
    return openai.OpenAI(base_url=plain_server.base_url, api_key="unused", max_retries=0, timeout=120)


def _grpc_text(plain_server, prompt: str, max_new_tokens: int, stop: list[str] | None = None) -> pb.Completion:
    stub = inference_pb2_grpc.InferenceServiceStub(grpc.insecure_channel(plain_server.grpc_address))
    params = pb.SamplingParams(max_new_tokens=max_new_tokens, stop=stop or [])
    return stub.Generate(pb.GenerateRequest(prompts=[prompt], params=params), timeout=120).completions[0]


def test_models_lists_the_served_name(client) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("other")


def test_completion_matches_the_grpc_answer(client, plain_server) -> None:
    reply = client.completions.create(model="tiny", prompt="def add(a, b):", max_tokens=12, temperature=0)
    expected = _grpc_text(plain_server, "def add(a, b):", 12)
    choice = reply.choices[0]
    assert reply.object == "text_completion" and reply.model == "tiny" and reply.id.startswith("cmpl-")
    assert choice.text == expected.samples[0].text
    assert choice.finish_reason == ("length" if expected.samples[0].finish_reason == "length" else "stop")
    assert reply.usage.prompt_tokens == expected.prompt_tokens
    assert reply.usage.completion_tokens == expected.samples[0].num_tokens
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_prompt_list_and_n_give_one_choice_per_sample(client, plain_server) -> None:
    prompts = ["def f(x):", "import os"]
    reply = client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=4, temperature=0.8, seed=3)
    assert sorted(c.index for c in reply.choices) == [0, 1, 2, 3]
    assert reply.usage.prompt_tokens == sum(_grpc_text(plain_server, p, 1).prompt_tokens for p in prompts)
    assert 4 <= reply.usage.completion_tokens <= 16
    again = client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=4, temperature=0.8, seed=3)
    assert [c.text for c in again.choices] == [c.text for c in reply.choices]  # seeded: reproducible


def test_stop_sequence_and_echo(client) -> None:
    text = client.completions.create(model="tiny", prompt="def add(a, b):", max_tokens=16, temperature=0).choices[0].text
    at = next(i for i in range(1, len(text) - 1) if text.find(text[i:i + 2]) == i)
    stopped = client.completions.create(model="tiny", prompt="def add(a, b):", max_tokens=16, temperature=0,
                                        stop=[text[at:at + 2]])
    assert stopped.choices[0].text == text[:at] and stopped.choices[0].finish_reason == "stop"
    echoed = client.completions.create(model="tiny", prompt="def add(a, b):", max_tokens=3, temperature=0, echo=True)
    assert echoed.choices[0].text.startswith("def add(a, b):")


def test_streamed_completion_is_the_same_text(client) -> None:
    whole = client.completions.create(model="tiny", prompt="class Stack:", max_tokens=10, temperature=0)
    chunks = list(client.completions.create(model="tiny", prompt="class Stack:", max_tokens=10, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.choices[0].text
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert reasons == [whole.choices[0].finish_reason]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_completion_and_its_stream(client, chat_model) -> None:
    from transformers import AutoTokenizer

    messages = [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Add two numbers."}]
    reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0)
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    message = reply.choices[0].message
    assert message.role == "assistant" and isinstance(message.content, str)
    tokenizer = AutoTokenizer.from_pretrained(chat_model)
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert reply.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])

    chunks = list(client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0,
                                                 stream=True))
    assert chunks[0].object == "chat.completion.chunk" and chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == message.content
    assert chunks[-1].choices[0].finish_reason == reply.choices[0].finish_reason


def test_chat_continues_a_final_assistant_message(client, plain_server) -> None:
    messages = [{"role": "user", "content": "Write add."}, {"role": "assistant", "content": "def add(a, b):"}]
    reply = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=6, temperature=0,
        extra_body={"continue_final_message": True, "add_generation_prompt": False},
    )
    expected = _grpc_text(plain_server, "<|user|>Write add.<|endoftext|>\n<|assistant|>def add(a, b):", 6)
    assert reply.choices[0].message.content == expected.samples[0].text


def _error(exc: openai.APIStatusError) -> dict:
    body = exc.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}, body
    return body


def test_errors_have_the_api_shape_and_status(client) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="gpt-4", prompt="x")
    err = _error(missing.value)
    assert err["code"] == "model_not_found" and err["param"] == "model" and "tiny" in err["message"]

    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model="tiny", prompt="x", temperature=-1)
    err = _error(bad.value)
    assert err["type"] == "invalid_request_error" and err["param"] == "temperature"
    assert "params." not in err["message"]

    with pytest.raises(openai.BadRequestError) as long:
        client.completions.create(model="tiny", prompt="def f(x): return x\n" * 400, max_tokens=8)
    err = _error(long.value)
    assert err["code"] == "context_length_exceeded" and "positions" in err["message"]

    with pytest.raises(openai.BadRequestError) as unsupported:
        client.completions.create(model="tiny", prompt="x", logprobs=2)
    assert _error(unsupported.value)["param"] == "logprobs"

    with pytest.raises(openai.BadRequestError) as roles:
        client.chat.completions.create(model="tiny", messages=[{"role": "robot", "content": "x"}])
    assert _error(roles.value)["param"] == "messages[0].role"


def _raw(url: str, body: bytes | None = None, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(url, body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_malformed_requests_get_api_errors(plain_server) -> None:
    base = plain_server.base_url
    status, doc = _raw(f"{base}/completions", b"{not json")
    assert status == 400 and doc["error"]["type"] == "invalid_request_error" and "JSON" in doc["error"]["message"]
    status, doc = _raw(f"{base}/completions", json.dumps({"model": "tiny"}).encode())
    assert status == 400 and doc["error"]["param"] == "prompt"
    status, doc = _raw(f"{base}/completions", None, method="GET")
    assert status == 405 and "POST" in doc["error"]["message"]
    status, doc = _raw(f"{base}/embeddings", b"{}")
    assert status == 404 and "/v1/completions" in doc["error"]["message"]


def test_no_chat_template_is_a_clear_400(tiny_model) -> None:
    server = start_plain_server(tiny_model)
    try:
        status, doc = _raw(f"{server.base_url}/chat/completions", json.dumps(
            {"model": str(tiny_model), "messages": [{"role": "user", "content": "hi"}]}).encode())
        assert status == 400 and "chat template" in doc["error"]["message"]
        status, doc = _raw(f"{server.base_url}/models", None, method="GET")
        assert status == 200 and doc["data"][0]["id"] == str(tiny_model)
    finally:
        stop_plain_server(server)
