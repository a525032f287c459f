"""What the controller accepts: every field of every JobService request, bounded and checked once.

SubmitJob is where a bad spec must stop: a spec that passes here runs, and a stage error with a
permanent code fails the stage at once (see ``runner``). Field rules come first, then the
checks that span fields (which stages need which inputs).
"""

from __future__ import annotations

from octopack.common.checks import K8S_NAME, git_ref, host_port, object_key, repository, yaml_mapping
from octopack.common.profiles import PROFILES
from octopack.common.validation import Rule, Rules, bad, choice, items, number, text
from octopack.common.vocabulary import LANGUAGES, TASKS, check_commitpack_language, check_language
from octopack.datasets.names import parse_ref
from octopack.evaluation.programs import SCORINGS
from octopack.evaluation.prompts import FORMATS
from octopack.jobs.v1 import jobs_pb2

#: Largest filter configuration (YAML); the paper's whole configuration is about 2 kB.
MAX_CONFIG_CHARS = 64 * 1024
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_LICENSE = r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}"
_ENV_VAR = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
P = "octopack.jobs.v1."


def _task(value: str) -> None:
    if value not in TASKS:
        raise ValueError(f"unknown task {value!r}; use one of {', '.join(TASKS)}")


def _http_url(value: str) -> None:
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1].strip("/")) == 0:
        raise ValueError(f"{value!r} is not an http(s) URL such as http://host:8000/v1")


def _evaluate(e: jobs_pb2.EvaluateConfig, has_serve: bool) -> None:
    """Where the generations come from: the serve stage or exactly one of three sources."""
    sources = [name for name in ("endpoint", "openai_base_url", "model_path") if getattr(e, name)]
    if not has_serve and not sources:
        raise bad("evaluate.endpoint", "required when the job has no serve stage (or openai_base_url, model_path)")
    if len(sources) > 1:
        raise bad(f"evaluate.{sources[1]}", f"give one of endpoint, openai_base_url, model_path; got {', '.join(sources)}")
    if e.openai_base_url and not e.model:
        raise bad("evaluate.model", "required with openai_base_url (the model id the server serves)")
    if e.model and not e.openai_base_url:
        raise bad("evaluate.model", "applies to openai_base_url only (use model_path for an in-process model)")


def _stages(spec: jobs_pb2.JobSpec) -> None:
    """The inputs each selected stage needs, and bounds that relate two fields."""
    has = {name for name in ("crawl", "filter", "train", "serve", "evaluate") if spec.HasField(name)}
    if not has:
        raise bad("", "select at least one stage by setting one of crawl, filter, train, serve, evaluate")
    c = spec.crawl
    lists = [bool(c.repositories), bool(c.repositories_file), bool(c.repositories_dataset)]
    if "crawl" in has and not any(lists):
        raise bad("crawl.repositories", "give at least one repository (a local path or a git URL), "
                  "or crawl.repositories_file / crawl.repositories_dataset")
    if "crawl" in has and sum(lists) > 1:
        raise bad("crawl.repositories", "give only one of repositories, repositories_file, repositories_dataset")
    f = spec.filter
    if "filter" in has and "crawl" not in has and not f.input_dataset:
        raise bad("filter.input_dataset", "required when the job has no crawl stage")
    if f.min_tokens and f.max_tokens and f.min_tokens > f.max_tokens:
        raise bad("filter.min_tokens", "must not exceed filter.max_tokens")
    if "train" in has and "filter" not in has and not spec.train.dataset:
        raise bad("train.dataset", "required when the job has no filter stage")
    if "serve" in has and "train" not in has and not spec.serve.model:
        raise bad("serve.model", "required when the job has no train stage")
    if "evaluate" in has:
        _evaluate(spec.evaluate, "serve" in has)
    r = spec.retry
    if r.multiplier and r.multiplier < 1:
        raise bad("retry.multiplier", "must be >= 1 (or 0 for the default 2)")
    if r.initial_backoff_seconds and r.max_backoff_seconds and r.initial_backoff_seconds > r.max_backoff_seconds:
        raise bad("retry.initial_backoff_seconds", "must not exceed retry.max_backoff_seconds")


_DATASET = Rule(max_chars=200, check=parse_ref)
_TOKENS = number(0, 1_000_000)

RULES = Rules(
    fields={
        # SubmitJob
        P + "SubmitJobRequest.idempotency_key": text(256),
        P + "JobSpec.name": text(200),
        P + "JobSpec.labels": items(64, pattern=_LABEL, hint="Kubernetes label syntax ([A-Za-z0-9_.-], <= 63)"),
        P + "CrawlConfig.repositories": items(256, max_chars=2048, check=repository),
        P + "CrawlConfig.repositories_file": Rule(max_chars=1024, check=object_key),
        P + "CrawlConfig.repositories_dataset": Rule(max_chars=200, check=parse_ref),
        P + "CrawlConfig.max_commits": number(0, 1_000_000_000),
        P + "CrawlConfig.languages": items(400, max_chars=100, check=check_commitpack_language),
        P + "CrawlConfig.licenses": items(64, pattern=_LICENSE, hint="an SPDX license id such as mit"),
        P + "CrawlConfig.branch": Rule(max_chars=255, check=git_ref),
        P + "CrawlConfig.profile": choice(PROFILES, "data profile"),
        P + "FilterConfig.input_dataset": _DATASET,
        P + "FilterConfig.tokenizer": text(4096),
        P + "FilterConfig.config_yaml": Rule(max_chars=MAX_CONFIG_CHARS, multiline=True, check=yaml_mapping),
        P + "FilterConfig.min_tokens": _TOKENS,
        P + "FilterConfig.max_tokens": _TOKENS,
        P + "TrainConfig.dataset": _DATASET,
        P + "TrainConfig.base_model": text(1024),
        P + "TrainConfig.max_steps": number(0, 10_000_000),
        P + "TrainConfig.batch_size": number(0, 4096),
        P + "TrainConfig.seq_len": number(0, 131_072),
        P + "TrainConfig.learning_rate": number(0, 1),
        P + "TrainConfig.lora_r": number(0, 1024),
        P + "TrainConfig.num_workers": number(0, 256),
        P + "TrainConfig.min_samples": number(0, 1_000_000_000),
        P + "ServeConfig.model": text(1024),
        P + "ServeConfig.replicas": number(0, 64),
        P + "ServeConfig.max_new_tokens": number(0, 32_768),
        P + "EvaluateConfig.endpoint": Rule(max_chars=260, check=host_port),
        P + "EvaluateConfig.languages": items(len(LANGUAGES), check=check_language),
        P + "EvaluateConfig.task": Rule(max_chars=32, check=_task),
        P + "EvaluateConfig.limit": number(0, 164),
        P + "EvaluateConfig.samples": number(0, 1000),
        P + "EvaluateConfig.temperature": number(0, 2),
        P + "EvaluateConfig.max_new_tokens": number(0, 32_768),
        P + "EvaluateConfig.scoring": choice(SCORINGS, "scoring"),
        P + "EvaluateConfig.openai_base_url": Rule(max_chars=2048, check=_http_url),
        P + "EvaluateConfig.model": text(1024),
        P + "EvaluateConfig.api_key_env": Rule(max_chars=128, pattern=_ENV_VAR, hint="an environment variable name"),
        P + "EvaluateConfig.model_path": text(4096),
        P + "EvaluateConfig.prompt_format": choice(FORMATS, "format"),
        P + "EvaluateConfig.baseline_model": text(1024),
        P + "EvaluateConfig.concurrency": number(0, 4096),
        P + "RetryPolicy.max_attempts": number(0, 20),
        P + "RetryPolicy.initial_backoff_seconds": number(0, 3600),
        P + "RetryPolicy.max_backoff_seconds": number(0, 86_400),
        P + "RetryPolicy.multiplier": number(0, 10),
        # Reads and cancellation
        P + "GetJobRequest.job_id": Rule(max_chars=63, pattern=K8S_NAME, hint="a job id such as job-1a2b3c4d5e6f"),
        P + "CancelJobRequest.job_id": Rule(max_chars=63, pattern=K8S_NAME, hint="a job id such as job-1a2b3c4d5e6f"),
        P + "WatchJobRequest.job_id": Rule(max_chars=63, pattern=K8S_NAME, hint="a job id such as job-1a2b3c4d5e6f"),
        P + "ListJobsRequest.states": items(16),
        P + "ListJobsRequest.page_size": number(0),
        P + "ListJobsRequest.page_token": text(512),
    },
    messages={P + "JobSpec": _stages},
)

