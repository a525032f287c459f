"""Which model answers the prompts: a gRPC inference endpoint, an OpenAI-compatible server or a local model.

One description (:class:`ModelSource`) for ``octopack eval``'s flags and a job's evaluate stage,
and one function (:func:`open_generator`) that turns it into a generator, so both evaluate
a model the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from octopack.common.errors import InvalidArgument


@dataclass(frozen=True)
class ModelSource:
    """Exactly one of ``endpoint``, ``openai_base_url`` (with ``model``) or ``model_path``."""

    #: gRPC ``host:port`` of an InferenceService (``octopack serve``, Ray Serve's gRPC proxy).
    endpoint: str = ""
    #: The Ray Serve application behind ``endpoint`` when the proxy serves several.
    application: str = ""
    #: Base URL of an OpenAI-compatible API (``http://127.0.0.1:8000/v1``).
    openai_base_url: str = ""
    #: The model id at ``openai_base_url``.
    model: str = ""
    #: Environment variable holding the API key (``OPENAI_API_KEY`` is used when set and none is named).
    api_key_env: str = ""
    #: A model run in this process: ``default``, a Hugging Face folder or ``NAME[@vN]``.
    model_path: str = ""
    #: Requests in flight to a server; rows per forward pass for a local model.
    concurrency: int = 32
    #: Seed of sample ``j`` of request ``i``: ``seed + 1000 * i`` (+ ``j`` on the server).
    seed: int | None = None
    #: Chat API only: send the code base as the start of the answer (vLLM's ``continue_final_message``).
    prefill: bool = False
    #: In-process only: torch's intra-op threads (0 = torch's default, every core).
    threads: int = 0

    def check(self) -> None:
        chosen = [name for name, value in (("--model HOST:PORT", self.endpoint),
                                           ("--openai-base-url", self.openai_base_url),
                                           ("--model-path", self.model_path)) if value]
        if len(chosen) != 1:
            raise InvalidArgument(
                "name one model: --model HOST:PORT (gRPC), --openai-base-url URL --model NAME, or --model-path "
                f"DIR|default|NAME@vN; got {', '.join(chosen) or 'none'}"
            )
        if self.openai_base_url and not self.model:
            raise InvalidArgument("--openai-base-url needs --model NAME (the id GET /v1/models lists)")
        if self.concurrency < 1:
            raise InvalidArgument(f"the request concurrency must be at least 1; got {self.concurrency}")
        if self.prefill and not self.openai_base_url:
            raise InvalidArgument("--chat-prefill applies to --openai-base-url only")

    def describe(self) -> str:
        """How results.json names the source."""
        if self.openai_base_url:
            return f"model {self.model} at {self.openai_base_url}"
        if self.model_path:
            return f"model {self.model_path} (in-process)"
        app = f" (application {self.application})" if self.application else ""
        return f"model at {self.endpoint}{app}"


def open_generator(source: ModelSource, token: str | None = None) -> Any:
    """The generator for ``source`` (call its ``close()`` when done)."""
    source.check()
    if source.openai_base_url:
        from octopack.evaluation.openai_generator import OpenAIGenerator, api_key_from_env

        return OpenAIGenerator(
            source.openai_base_url, source.model, api_key_from_env(source.api_key_env or None),
            concurrency=source.concurrency, seed=source.seed, prefill=source.prefill,
        )
    if source.model_path:
        from octopack.evaluation.local_generator import LocalGenerator

        return LocalGenerator(source.model_path, max_batch_size=source.concurrency, seed=source.seed,
                              threads=source.threads)
    from octopack.evaluation.model_generator import ModelGenerator

    return ModelGenerator(source.endpoint, token, concurrency=source.concurrency, seed=source.seed,
                          application=source.application)
