"""A :class:`~octopack.evaluation.sources.Generator` that asks any OpenAI-compatible server.

vLLM, TGI, SGLang, llama.cpp's server, Ray Serve LLM and ``octopack serve`` all speak the
API. Prompts of the ``chat`` format go to ``POST {base}/chat/completions`` (the question as
the user turn; the answer's code is aligned to the prompt's code base by
:func:`octopack.evaluation.chat.continuation`, or, with ``prefill``, the code base is sent as
the start of the assistant turn with vLLM's ``continue_final_message``); every other format
to ``POST {base}/completions``.

Up to ``concurrency`` requests are in flight (a batching server decodes them together).
429 and 5xx answers and dropped connections are retried with exponential back-off (a
``Retry-After`` header wins); other failures stop the run with a message that says what to
fix. :meth:`OpenAIGenerator.check` runs first: the endpoint answers, ``GET {base}/models``
lists the model.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from octopack.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OctopackError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from octopack.evaluation.chat import continuation
from octopack.evaluation.sources import GenerationParams, GenerationRequest, fan_out

log = logging.getLogger(__name__)

#: Answers worth another attempt: rate limits and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: Stop strings per request (OpenAI's own API takes 4; servers that batch take more).
DEFAULT_MAX_STOPS = 16


def api_key_from_env(variable: str | None) -> str | None:
    """The API key in the environment variable the user named (``OPENAI_API_KEY`` when unnamed and set).

    The variable's name is the user's choice at run time, so no settings class can declare it.
    """
    if variable:
        value = os.environ.get(variable)
        if not value:
            raise InvalidArgument(f"--api-key-env {variable}: the variable is not set (export {variable}=...)")
        return value
    return os.environ.get("OPENAI_API_KEY") or None


def _error_of(raw: bytes) -> tuple[str, str]:
    """``(error.message, error.code)`` of an OpenAI-shaped error body, else the body's start and ""."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:300], ""
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail", doc))
        if isinstance(err, dict):
            return str(err.get("message") or err)[:500], str(err.get("code") or "")
        return str(err)[:500], ""
    return str(doc)[:300], ""


class OpenAIGenerator:
    """Generations from ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``) for ``model``."""

    raw = False
    describes = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 32,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        timeout_s: float = 600.0,
        seed: int | None = None,
        prefill: bool = False,
        max_stops: int = DEFAULT_MAX_STOPS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgument(f"--openai-base-url {base_url!r} must be an http:// or https:// URL, "
                                  "e.g. http://127.0.0.1:8000/v1")
        if not model:
            raise InvalidArgument("--openai-base-url needs --model NAME: the model id the server serves")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.concurrency = max(1, concurrency)
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.seed = seed
        self.prefill = prefill
        self.max_stops = max_stops
        self.sleep = sleep
        self.retries = 0
        self._checked = False

    def close(self) -> None:
        """Nothing to release (one connection per request)."""

    # -- HTTP ------------------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
            raw = reply.read()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise FailedPrecondition(
                f"{self.base_url}{path} did not answer JSON ({raw[:80]!r}): is {self.base_url} an OpenAI-compatible "
                "API (its base URL usually ends in /v1)?"
            ) from exc

    def _fail(self, path: str, status: int, message: str, code: str = "") -> OctopackError:
        where = f"{self.base_url}{path}"
        lowered = message.lower()
        if status == 404 and (code == "model_not_found" or ("model" in lowered and "not exist" in lowered)):
            return NotFound(f"{where}: {message} (model {self.model!r}; GET {self.base_url}/models lists the served ones)")
        if status in (404, 405):
            return NotFound(f"{where} answered {status}: no OpenAI-compatible API there; check --openai-base-url "
                            f"(it usually ends in /v1) ({message})")
        if status == 401:
            return Unauthenticated(f"{where} refused the request (401): give the API key with --api-key-env VAR "
                                   f"({message})")
        if status == 403:
            return PermissionDenied(f"{where} refused the API key (403): {message}")
        if 400 <= status < 500:
            return InvalidArgument(f"{where} rejected the request ({status}): {message}")
        return Unavailable(f"{where} failed ({status}): {message}")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, retries: int | None = None) -> Any:
        """One API call with retries on 429/5xx/dropped connections; the project's error otherwise."""
        attempts = (self.max_retries if retries is None else retries) + 1
        for attempt in range(attempts):
            delay = min(self.max_backoff_s, self.backoff_s * 2**attempt) * (0.5 + random.random() / 2)
            try:
                return self._open(method, path, body)
            except urllib.error.HTTPError as exc:
                message, code = _error_of(exc.read())
                if exc.code not in RETRY_STATUSES or attempt == attempts - 1:
                    raise self._fail(path, exc.code, message, code) from exc
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    delay = min(self.max_backoff_s, float(retry_after))
                log.warning("%s%s answered %d (%s); retrying in %.1f s", self.base_url, path, exc.code, message, delay)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                if attempt == attempts - 1:
                    raise Unavailable(
                        f"nothing answers at {self.base_url} ({reason}): start the server (for example "
                        "'octopack serve MODEL', whose OpenAI API is http://127.0.0.1:8000/v1) or fix --openai-base-url"
                    ) from exc
                log.warning("%s%s: %s; retrying in %.1f s", self.base_url, path, reason, delay)
            self.retries += 1
            self.sleep(delay)
        raise AssertionError("unreachable")

    # -- checks and generation -------------------------------------------------------------------
    def served_models(self) -> list[str]:
        """``GET /models``: the ids the server serves."""
        doc = self._call("GET", "/models", retries=1)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise FailedPrecondition(f"{self.base_url}/models did not answer an OpenAI model list: {str(doc)[:200]}")
        return [str(item.get("id")) for item in data if isinstance(item, dict)]

    def check(self) -> None:
        """Fail early when the endpoint does not answer or does not serve the model."""
        served = self.served_models()
        if self.model not in served:
            listed = ", ".join(served) or "nothing"
            raise NotFound(f"model {self.model!r} is not served at {self.base_url}: it serves {listed}; "
                           "pass one of them with --model")
        self._checked = True

    def _body(self, request: GenerationRequest, params: GenerationParams, index: int) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.n,
        }
        stops = list(dict.fromkeys(request.stop))[: self.max_stops]
        if stops:
            body["stop"] = stops
        if self.seed is not None:
            body["seed"] = self.seed + 1000 * index
        if request.chat is None:
            body["prompt"] = request.prompt
            return "/completions", body
        messages = [{"role": "user", "content": request.chat.user}]
        if self.prefill and request.chat.prefix.strip():
            messages.append({"role": "assistant", "content": request.chat.prefix.rstrip()})
            body.update(add_generation_prompt=False, continue_final_message=True)
        body["messages"] = messages
        return "/chat/completions", body

    def _one(self, request: GenerationRequest, params: GenerationParams, index: int) -> list[str]:
        path, body = self._body(request, params, index)
        doc = self._call("POST", path, body)
        choices = doc.get("choices") if isinstance(doc, dict) else None
        if not isinstance(choices, list) or len(choices) < 1:
            raise FailedPrecondition(f"{self.base_url}{path} answered no choices for {request.task_id}: {str(doc)[:200]}")
        choices = sorted(choices, key=lambda c: c.get("index", 0))
        if request.chat is None:
            return [str(c.get("text") or "") for c in choices]
        texts = [str((c.get("message") or {}).get("content") or "") for c in choices]
        if request.stage != "code" or (self.prefill and request.chat.prefix.strip()):
            return texts
        return [continuation(t, request.language, request.entry_point, request.chat.prefix) for t in texts]

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        """One list of ``params.n`` generations per request, in request order."""
        if not self._checked:
            self.check()
        return fan_out(requests, self.concurrency, lambda request, i: self._one(request, params, i))
