"""The OpenAI-compatible HTTP API: request parsing, responses, stream chunks and errors (no web framework).

``POST /v1/completions``, ``POST /v1/chat/completions`` (both with ``stream``) and
``GET /v1/models`` as the OpenAI API defines them, so the ``openai`` client, vLLM-style
tools and this project's own evaluation talk to the server unchanged. Defaults follow the
API: ``temperature`` 1, ``top_p`` 1, ``n`` 1, and ``max_tokens`` 16 for completions (the
server's default for chat). Fields the engine cannot honour (``logprobs``, ``tools``,
penalties other than 0, ...) are refused with a 400 that names them rather than ignored.
Errors have the API's shape: ``{"error": {"message", "type", "param", "code"}}``.

Two vLLM extensions of chat are accepted: ``add_generation_prompt`` (default true) and
``continue_final_message`` (continue a last assistant message, e.g. a function's signature).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from octopack.common.errors import OctopackError
from octopack.ray_jobs.serve.engine import RowResult
from octopack.ray_jobs.serve.params import GenerationRequest, Limits, validate

#: Completions default to 16 new tokens, as in the OpenAI API.
COMPLETIONS_DEFAULT_MAX_TOKENS = 16
#: Fields accepted only at their neutral value (absent, 0, false or empty).
_UNSUPPORTED = ("presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "suffix",
                "tools", "functions")
_FINISH = {"eos": "stop", "stop": "stop", "length": "length"}


class APIError(Exception):
    """An error answered in the OpenAI shape with its HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or _KIND.get(status, "server_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


_KIND = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
         405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
         500: "server_error", 503: "server_error"}

#: Where a message of :func:`params.validate` points, in the API's field names.
_PARAM_OF = (("max_new_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p"),
             ("params.n", "n"), ("stop", "stop"), ("prompts", "prompt"))


def api_message(message: str, prompt_field: str = "prompt") -> str:
    """A validation message in the API's field names (``max_tokens``, not ``params.max_new_tokens``)."""
    message = message.replace("params.max_new_tokens", "max_tokens").replace("params.", "")
    return message.replace("prompts[0]", prompt_field).replace("prompts", prompt_field)


def param_of(message: str, prompt_field: str = "prompt") -> str | None:
    """The API field a validation message is about (``None`` when it names none)."""
    for needle, param in _PARAM_OF:
        if needle in message:
            return prompt_field if param == "prompt" else param
    return None


@dataclass(frozen=True)
class ParsedRequest:
    """A validated API request: the engine request plus how to answer it."""

    kind: str  # "completion" | "chat"
    model: str
    request: GenerationRequest
    stream: bool
    include_usage: bool
    echo: bool = False

    @property
    def n(self) -> int:
        return self.request.sampling.n


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise APIError(400, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    return body


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise APIError(400, f"{name} must be a number; got {value!r}", param=name)
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise APIError(400, f"{name} must be an integer; got {value!r}", param=name)
    return value


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise APIError(400, "stop must be a string or a list of strings", param="stop")


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name in _UNSUPPORTED:
        if body.get(name) not in (None, False, 0, {}, []):
            raise APIError(400, f"{name} is not supported by this server; leave it out", param=name)
    best_of = body.get("best_of")
    if best_of not in (None, 1) and best_of != body.get("n", 1):
        raise APIError(400, "best_of is not supported by this server; leave it out", param="best_of")


def _model(body: dict[str, Any], served: Sequence[str]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(400, f"model is required: this server serves {', '.join(map(repr, served))}",
                       param="model")
    if model not in served:
        raise APIError(404, f"The model {model!r} does not exist: this server serves "
                       f"{', '.join(map(repr, served))} (GET /v1/models lists them)",
                       param="model", code="model_not_found")
    return model


def _sampling(body: dict[str, Any], prompts: list[str], limits: Limits, max_tokens: int | None,
              prompt_field: str) -> GenerationRequest:
    _refuse_unsupported(body)
    n = _integer(body, "n", 1) or 0
    if n < 1:
        raise APIError(400, f"n must be at least 1; got {n}", param="n")
    if max_tokens is not None and max_tokens < 1:
        raise APIError(400, f"max_tokens must be at least 1; got {max_tokens}", param="max_tokens")
    try:
        return validate(
            prompts=prompts, max_new_tokens=max_tokens or 0, temperature=_number(body, "temperature", 1.0),
            top_p=_number(body, "top_p", 1.0), n=n, stop=_stops(body), seed=_integer(body, "seed", None),
            limits=limits,
        )
    except OctopackError as exc:
        raise APIError(400, api_message(exc.message, prompt_field), param=param_of(exc.message, prompt_field)) from exc


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise APIError(400, "stream must be true or false", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise APIError(400, "stream_options must be an object", param="stream_options")
    return stream, bool(options.get("include_usage", False))


def parse_completion(body: dict[str, Any], served: Sequence[str], limits: Limits) -> ParsedRequest:
    """``POST /v1/completions``: ``prompt`` is a string or a list of strings."""
    model = _model(body, served)
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise APIError(400, "prompt must be a string or a non-empty list of strings (token ids are not "
                       "supported)", param="prompt")
    max_tokens = _integer(body, "max_tokens", COMPLETIONS_DEFAULT_MAX_TOKENS)
    request = _sampling(body, prompts, limits, max_tokens, "prompt")
    stream, usage = _stream_flags(body)
    echo = body.get("echo") or False
    return ParsedRequest("completion", model, request, stream, usage, bool(echo))


def message_text(content: Any, index: int) -> str:
    """A message's ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise APIError(400, f"messages[{index}].content: only text parts are supported",
                               param=f"messages[{index}].content")
            parts.append(part["text"])
        return "".join(parts)
    raise APIError(400, f"messages[{index}].content must be a string or a list of text parts",
                   param=f"messages[{index}].content")


def chat_messages(body: dict[str, Any]) -> list[dict[str, str]]:
    """``messages`` as ``[{"role", "content"}]`` with text content, checked."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "messages must be a non-empty list of {role, content}", param="messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise APIError(400, f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant"):
            raise APIError(400, f"messages[{i}].role must be system, user or assistant; got {role!r}",
                           param=f"messages[{i}].role")
        out.append({"role": "system" if role == "developer" else role,
                    "content": message_text(message.get("content"), i)})
    return out


def parse_chat(
    body: dict[str, Any], served: Sequence[str], limits: Limits,
    template: Callable[[list[dict[str, str]], bool, bool], str],
) -> ParsedRequest:
    """``POST /v1/chat/completions``: the messages through the model's chat template."""
    model = _model(body, served)
    messages = chat_messages(body)
    if body.get("response_format") not in (None, {"type": "text"}):
        raise APIError(400, "response_format is not supported by this server; leave it out",
                       param="response_format")
    cont = bool(body.get("continue_final_message", False))
    add = bool(body.get("add_generation_prompt", not cont))
    if cont and messages[-1]["role"] != "assistant":
        raise APIError(400, "continue_final_message needs an assistant message last",
                       param="continue_final_message")
    prompt = template(messages, add, cont)
    max_tokens = _integer(body, "max_completion_tokens", None)
    max_tokens = _integer(body, "max_tokens", max_tokens)
    request = _sampling(body, [prompt], limits, max_tokens, "messages")
    stream, usage = _stream_flags(body)
    return ParsedRequest("chat", model, request, stream, usage)


# -- responses ---------------------------------------------------------------------------------
def finish_reason(reason: str) -> str:
    return _FINISH.get(reason, reason)


def _envelope(parsed: ParsedRequest, rid: str, created: int, chunk: bool) -> dict[str, Any]:
    obj = "text_completion" if parsed.kind == "completion" else (
        "chat.completion.chunk" if chunk else "chat.completion")
    return {"id": rid, "object": obj, "created": created, "model": parsed.model}


def new_id(parsed: ParsedRequest) -> str:
    return ("cmpl-" if parsed.kind == "completion" else "chatcmpl-") + uuid.uuid4().hex


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def response(parsed: ParsedRequest, results: list[list[RowResult]]) -> dict[str, Any]:
    """The whole answer: one choice per sample, ``index = prompt * n + sample``."""
    doc = _envelope(parsed, new_id(parsed), int(time.time()), chunk=False)
    choices = []
    for p, row in enumerate(results):
        for j, result in enumerate(row):
            index = p * parsed.n + j
            reason = finish_reason(result.finish_reason)
            if parsed.kind == "completion":
                text = (parsed.request.prompts[p] if parsed.echo else "") + result.text
                choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": reason})
            else:
                choices.append({"index": index, "message": {"role": "assistant", "content": result.text},
                                "logprobs": None, "finish_reason": reason})
    prompt_tokens = sum(row[0].prompt_tokens for row in results if row)
    completion = sum(r.num_tokens for row in results for r in row)
    doc["choices"] = choices
    doc["usage"] = usage(prompt_tokens, completion)
    return doc


class ChunkWriter:
    """Server-sent events of one streamed answer (``data: {...}`` lines, then ``data: [DONE]``)."""

    def __init__(self, parsed: ParsedRequest) -> None:
        self.parsed = parsed
        self.id = new_id(parsed)
        self.created = int(time.time())
        self.prompt_tokens: dict[int, int] = {}
        self.completion_tokens = 0

    @staticmethod
    def event(doc: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(doc, ensure_ascii=False).encode() + b"\n\n"

    def _chunk(self, index: int, text: str | None, reason: str | None, role: bool = False) -> bytes:
        doc = _envelope(self.parsed, self.id, self.created, chunk=True)
        if self.parsed.kind == "completion":
            choice: dict[str, Any] = {"index": index, "text": text or "", "logprobs": None,
                                      "finish_reason": reason}
        else:
            delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else (
                {} if text is None else {"content": text})
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}
        doc["choices"] = [choice]
        return self.event(doc)

    def start(self) -> list[bytes]:
        """Chat streams open every choice with its role; completions with echo send the prompt."""
        out = []
        for p, prompt in enumerate(self.parsed.request.prompts):
            for j in range(self.parsed.n):
                index = p * self.parsed.n + j
                if self.parsed.kind == "chat":
                    out.append(self._chunk(index, None, None, role=True))
                elif self.parsed.echo:
                    out.append(self._chunk(index, prompt, None))
        return out

    def piece(self, prompt_index: int, sample_index: int, text: str, reason: str | None,
              num_tokens: int = 0, prompt_tokens: int = 0) -> list[bytes]:
        index = prompt_index * self.parsed.n + sample_index
        out = []
        if text:
            out.append(self._chunk(index, text, None))
        if reason is not None:
            self.completion_tokens += num_tokens
            self.prompt_tokens[prompt_index] = prompt_tokens
            out.append(self._chunk(index, "" if self.parsed.kind == "completion" else None,
                                   finish_reason(reason)))
        return out

    def end(self) -> list[bytes]:
        out = []
        if self.parsed.include_usage:
            doc = _envelope(self.parsed, self.id, self.created, chunk=True)
            doc["choices"] = []
            doc["usage"] = usage(sum(self.prompt_tokens.values()), self.completion_tokens)
            out.append(self.event(doc))
        out.append(b"data: [DONE]\n\n")
        return out

    @staticmethod
    def error(exc: APIError) -> bytes:
        return ChunkWriter.event(exc.body())


def models(served: Sequence[str], created: int) -> dict[str, Any]:
    """``GET /v1/models``: the first name is the model's id; the rest are aliases it answers to."""
    return {"object": "list",
            "data": [{"id": served[0], "object": "model", "created": created, "owned_by": "octopack"}]}
