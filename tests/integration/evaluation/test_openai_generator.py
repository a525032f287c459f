"""OpenAIGenerator against HTTP servers that misbehave on purpose, and chat answers run in real executors."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from scripted_server import error, models, scripted_server

from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated, Unavailable
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.executor_client import ExecutorClient
from octopack.evaluation.openai_generator import OpenAIGenerator, api_key_from_env
from octopack.evaluation.runner import evaluate
from octopack.evaluation.sources import ChatTurn, GenerationParams, GenerationRequest

pytestmark = pytest.mark.integration

PARAMS = GenerationParams(n=1, temperature=0.0, max_new_tokens=32)
REQUEST = GenerationRequest("Python/0", "python", "synthesize", "code", "def f():", ("\ndef",))


def _completion(text: str = "    return 1") -> tuple[int, Any, dict[str, str]]:
    return 200, {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}, {}


def _generator(base_url: str, **kwargs: Any) -> OpenAIGenerator:
    return OpenAIGenerator(base_url, "m", backoff_s=0.01, sleep=lambda s: None, **kwargs)


def test_retries_rate_limits_and_server_errors_with_back_off() -> None:
    answers = iter([error(429, "slow down", **{"Retry-After": "2"}), error(503, "warming up"), _completion()])
    waits: list[float] = []

    def handler(method: str, path: str, body: Any):
        return models("m") if path.endswith("/models") else next(answers)

    with scripted_server(handler) as server:
        gen = OpenAIGenerator(server.base_url, "m", api_key="sk-test", backoff_s=0.5, sleep=waits.append)
        assert gen.generate([REQUEST], PARAMS) == [["    return 1"]]
        posts = [r for r in server.requests if r[0] == "POST"]
    assert len(posts) == 3 and gen.retries == 2
    assert waits[0] == 2.0  # Retry-After wins
    assert 0.5 <= waits[1] <= 1.0  # then exponential back-off with jitter: 1.0 * [0.5, 1]
    body, headers = posts[0][2], posts[0][3]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {"model": "m", "prompt": "def f():", "max_tokens": 32, "temperature": 0.0, "top_p": 0.95,
                    "n": 1, "stop": ["\ndef"]}


def test_gives_up_after_the_retries_with_the_servers_message() -> None:
    def handler(method: str, path: str, body: Any):
        return models("m") if path.endswith("/models") else error(500, "CUDA out of memory")

    with scripted_server(handler) as server:
        gen = _generator(server.base_url, max_retries=2)
        with pytest.raises(Unavailable, match=r"failed \(500\): CUDA out of memory"):
            gen.generate([REQUEST], PARAMS)
        assert len([r for r in server.requests if r[0] == "POST"]) == 3


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (error(404, "Not Found"), NotFound, "no OpenAI-compatible API there"),
        ((200, b"<html>hello</html>", {}), FailedPrecondition, "did not answer JSON"),
        (error(401, "invalid api key"), Unauthenticated, "--api-key-env"),
        (models("llama-3", "qwen"), NotFound, "model 'm' is not served at"),
    ],
)
def test_a_wrong_endpoint_fails_before_any_prompt(answer, kind, words: str) -> None:
    with scripted_server(lambda method, path, body: answer) as server:
        with pytest.raises(kind, match=words) as err:
            _generator(server.base_url).generate([REQUEST], PARAMS)
        assert all(r[0] == "GET" for r in server.requests)
    if answer[1] and isinstance(answer[1], dict) and "data" in answer[1]:
        assert "llama-3, qwen" in str(err.value.message)


def test_nothing_listening_and_bad_arguments() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff_s=0.01, sleep=lambda s: None)
    with pytest.raises(Unavailable, match="nothing answers at"):
        gen.check()
    with pytest.raises(InvalidArgument, match="http:// or https://"):
        OpenAIGenerator("127.0.0.1:8000", "m")
    with pytest.raises(InvalidArgument, match="needs --model"):
        OpenAIGenerator("http://h/v1", "")


def test_a_bad_request_is_not_retried() -> None:
    def handler(method: str, path: str, body: Any):
        return models("m") if path.endswith("/models") else error(400, "max_tokens is too large")

    with scripted_server(handler) as server:
        with pytest.raises(InvalidArgument, match="rejected the request \\(400\\): max_tokens is too large"):
            _generator(server.base_url).generate([REQUEST], PARAMS)
        assert len([r for r in server.requests if r[0] == "POST"]) == 1


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert api_key_from_env("MY_KEY") == "sk-1"
    assert api_key_from_env(None) is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-2")
    assert api_key_from_env(None) == "sk-2"
    with pytest.raises(InvalidArgument, match="MISSING_KEY"):
        api_key_from_env("MISSING_KEY")


def test_prefill_sends_the_code_base_as_the_answers_start() -> None:
    chat = GenerationRequest("Python/0", "python", "synthesize", "code", "q", (), ChatTurn("Write f.", "def f():\n"), "f")

    def handler(method: str, path: str, body: Any):
        if path.endswith("/models"):
            return models("m")
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "\n    return 2"}}]}, {}

    with scripted_server(handler) as server:
        assert _generator(server.base_url, prefill=True).generate([chat], PARAMS) == [["\n    return 2"]]
        body = server.requests[-1][2]
    assert body["messages"] == [{"role": "user", "content": "Write f."}, {"role": "assistant", "content": "def f():"}]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


FENCE = {"python": "python", "js": "javascript", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}


def _chat_answers(problems: dict[str, Any], whole: bool):
    """A chat server that answers each problem with its canonical solution, as chat models write it."""
    by_instruction = {p.instruction.strip(): p for ps in problems.values() for p in ps}

    def handler(method: str, path: str, body: Any):
        if path.endswith("/models"):
            return models("m")
        problem = by_instruction[body["messages"][0]["content"]]
        if whole:  # the prompt and the body: imports, the whole function (in Java its class)
            code = problem.prompt + problem.canonical_solution
        else:  # only the function, as a bare definition
            code = problem.declaration.split("\n\n")[-1] + problem.canonical_solution
        text = f"Here is the solution:\n\n```{FENCE[problem.language]}\n{code}\n```\n\nIt loops once. Example:\n```\nf(1)\n```"
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}, {}

    return handler


def _run_chat(executor_address: str, whole: bool, limit: int) -> None:
    problems = {lang: load_problems(lang)[:limit] for lang in FENCE}
    if not whole:  # a bare function needs the prompt's imports, which Go's declarations do not end with
        problems = {lang: ps for lang, ps in problems.items() if lang != "go"}
    with scripted_server(_chat_answers(problems, whole)) as server:
        gen = _generator(server.base_url)

        async def run():
            async with ExecutorClient(executor_address) as client:
                return await evaluate("synthesize", problems, gen, client, PARAMS, fmt="chat")

        result = asyncio.run(run())
    for name, lang in result.languages.items():
        statuses = [v.status for p in lang.problems for v in p.verdicts]
        assert lang.passed == len(problems[name]), (name, statuses)


@pytest.mark.parametrize("whole", [True, False], ids=["whole-program", "function-only"])
def test_chat_answers_with_the_right_code_pass_in_every_language(executor_address: str, whole: bool) -> None:
    _run_chat(executor_address, whole, 4)


@pytest.mark.full
@pytest.mark.timeout(3600)
def test_chat_answers_of_all_164_problems_pass(executor_address: str) -> None:
    _run_chat(executor_address, True, 164)
