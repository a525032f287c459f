"""Parsing OpenAI requests into engine requests, the API's defaults, and the answer documents."""

from __future__ import annotations

import json

import pytest

from octopack.ray_jobs.serve.engine import RowResult
from octopack.ray_jobs.serve.openai_api import (
    COMPLETIONS_DEFAULT_MAX_TOKENS,
    APIError,
    ChunkWriter,
    parse_chat,
    parse_completion,
    parse_json,
    response,
)
from octopack.ray_jobs.serve.params import Limits

SERVED = ("tiny", "/models/tiny")
LIMITS = Limits(default_max_new_tokens=256)


def _template(messages, add, cont) -> str:
    text = "".join(f"<{m['role']}>{m['content']}" for m in messages)
    return text + ("<assistant>" if add else "")


def test_completion_defaults_follow_the_api() -> None:
    parsed = parse_completion({"model": "tiny", "prompt": "def f():"}, SERVED, LIMITS)
    sampling = parsed.request.sampling
    assert parsed.request.prompts == ("def f():",)
    assert sampling.max_new_tokens == COMPLETIONS_DEFAULT_MAX_TOKENS == 16
    assert (sampling.temperature, sampling.top_p, sampling.n, sampling.stop) == (1.0, 1.0, 1, ())
    assert parsed.model == "tiny" and not parsed.stream


def test_completion_fields() -> None:
    body = {"model": "/models/tiny", "prompt": ["a", "b"], "max_tokens": 5, "temperature": 0, "top_p": 0.5,
            "n": 3, "stop": "\n", "seed": 7, "stream": True, "stream_options": {"include_usage": True},
            "presence_penalty": 0, "logprobs": None, "user": "someone"}
    parsed = parse_completion(body, SERVED, LIMITS)
    s = parsed.request.sampling
    assert (s.max_new_tokens, s.temperature, s.top_p, s.n, s.stop, s.seed) == (5, 0.0, 0.5, 3, ("\n",), 7)
    assert parsed.stream and parsed.include_usage and parsed.model == "/models/tiny"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"prompt": "x"}, 400, "model"),
        ({"model": "gpt-4", "prompt": "x"}, 404, "model"),
        ({"model": "tiny"}, 400, "prompt"),
        ({"model": "tiny", "prompt": [1, 2, 3]}, 400, "prompt"),
        ({"model": "tiny", "prompt": ""}, 400, "prompt"),
        ({"model": "tiny", "prompt": "x", "temperature": "hot"}, 400, "temperature"),
        ({"model": "tiny", "prompt": "x", "temperature": 101}, 400, "temperature"),
        ({"model": "tiny", "prompt": "x", "max_tokens": 0}, 400, "max_tokens"),
        ({"model": "tiny", "prompt": "x", "max_tokens": 10**6}, 400, "max_tokens"),
        ({"model": "tiny", "prompt": "x", "n": 0}, 400, "n"),
        ({"model": "tiny", "prompt": "x", "stop": [1]}, 400, "stop"),
        ({"model": "tiny", "prompt": "x", "logprobs": 1}, 400, "logprobs"),
        ({"model": "tiny", "prompt": "x", "frequency_penalty": 0.5}, 400, "frequency_penalty"),
        ({"model": "tiny", "prompt": "x", "best_of": 4}, 400, "best_of"),
        ({"model": "tiny", "prompt": "x", "stream": "yes"}, 400, "stream"),
    ],
)
def test_bad_completion_requests(body, status, param) -> None:
    with pytest.raises(APIError) as err:
        parse_completion(body, SERVED, LIMITS)
    assert (err.value.status, err.value.param) == (status, param)
    doc = err.value.body()["error"]
    assert set(doc) == {"message", "type", "param", "code"} and doc["message"]
    assert "params." not in doc["message"]


def test_chat_goes_through_the_template() -> None:
    body = {"model": "tiny", "messages": [{"role": "developer", "content": "Be brief."},
                                          {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_completion_tokens": 9}
    parsed = parse_chat(body, SERVED, LIMITS, _template)
    assert parsed.request.prompts == ("<system>Be brief.<user>Hi<assistant>",)
    assert parsed.request.sampling.max_new_tokens == 9
    default = parse_chat({"model": "tiny", "messages": [{"role": "user", "content": "x"}]}, SERVED, LIMITS, _template)
    assert default.request.sampling.max_new_tokens == LIMITS.default_max_new_tokens


def test_chat_continue_final_message() -> None:
    body = {"model": "tiny", "continue_final_message": True,
            "messages": [{"role": "user", "content": "Add"}, {"role": "assistant", "content": "def add("}]}
    assert parse_chat(body, SERVED, LIMITS, _template).request.prompts == ("<user>Add<assistant>def add(",)
    body["messages"] = body["messages"][:1]
    with pytest.raises(APIError) as err:
        parse_chat(body, SERVED, LIMITS, _template)
    assert err.value.param == "continue_final_message"


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        (["hi"], "messages[0]"),
        ([{"role": "tool", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "messages[0].content"),
    ],
)
def test_bad_chat_messages(messages, param) -> None:
    with pytest.raises(APIError) as err:
        parse_chat({"model": "tiny", "messages": messages}, SERVED, LIMITS, _template)
    assert err.value.param == param and err.value.status == 400


def test_bad_json_bodies() -> None:
    for raw in (b"{", b"[1]", b""):
        with pytest.raises(APIError) as err:
            parse_json(raw)
        assert err.value.status == 400


def test_response_indexes_choices_by_prompt_and_sample() -> None:
    parsed = parse_completion({"model": "tiny", "prompt": ["p0", "p1"], "n": 2, "echo": True}, SERVED, LIMITS)
    rows = [[RowResult("a", "eos", 2, 5), RowResult("b", "length", 16, 5)],
            [RowResult("c", "stop", 1, 3), RowResult("d", "stop", 4, 3)]]
    doc = response(parsed, rows)
    assert [(c["index"], c["text"], c["finish_reason"]) for c in doc["choices"]] == [
        (0, "p0a", "stop"), (1, "p0b", "length"), (2, "p1c", "stop"), (3, "p1d", "stop")]
    assert doc["usage"] == {"prompt_tokens": 8, "completion_tokens": 23, "total_tokens": 31}


def test_chat_stream_events() -> None:
    parsed = parse_chat({"model": "tiny", "messages": [{"role": "user", "content": "x"}], "stream": True,
                         "stream_options": {"include_usage": True}}, SERVED, LIMITS, _template)
    writer = ChunkWriter(parsed)
    events = writer.start() + writer.piece(0, 0, "Hel", None) + writer.piece(0, 0, "lo", "eos", 2, 7) + writer.end()
    docs = [json.loads(e[len(b"data: "):]) for e in events[:-1]]
    assert events[-1] == b"data: [DONE]\n\n"
    assert docs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [d["choices"][0]["delta"].get("content") for d in docs[1:4]] == ["Hel", "lo", None]
    assert docs[3]["choices"][0]["finish_reason"] == "stop"
    assert docs[4]["choices"] == [] and docs[4]["usage"]["total_tokens"] == 9
    assert {d["id"] for d in docs} == {writer.id} and all(d["object"] == "chat.completion.chunk" for d in docs)
