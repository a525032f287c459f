"""What the inference service accepts at the edge: prompts, stop strings and sampling numbers, bounded.

The plain gRPC server applies these in the common interceptor; the Ray Serve deployment (whose
proxy has no interceptor) calls :meth:`Rules.check` itself. ``params`` then checks the values
against the replica's limits and fills in the defaults.
"""

from __future__ import annotations

from octopack.common.validation import Rules, items, number
from octopack.ray_jobs.serve.params import MAX_STOP_CHARS, MAX_STOPS
from octopack.ray_jobs.serve.settings import ServeSettings

P = "octopack.inference.v1."
#: Longest prompt in characters; the token limit (max_prompt_tokens) is checked after tokenising.
MAX_PROMPT_CHARS = 1 << 20


def rules(settings: ServeSettings) -> Rules:
    """The inference rules of a server with these limits; prompts and stops are text for a model."""
    prompts = items(settings.max_prompts, max_chars=MAX_PROMPT_CHARS, raw=True)
    return Rules(fields={
        P + "GenerateRequest.prompts": prompts,
        P + "GenerateStreamRequest.prompts": prompts,
        P + "SamplingParams.stop": items(MAX_STOPS, max_chars=MAX_STOP_CHARS, raw=True),
        P + "SamplingParams.max_new_tokens": number(0, settings.max_new_tokens),
        P + "SamplingParams.temperature": number(0, 100),
        P + "SamplingParams.top_p": number(0, 1),
        P + "SamplingParams.n": number(0, settings.max_n),
    })
