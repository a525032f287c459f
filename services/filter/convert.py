"""Proto <-> domain conversions of the filter service."""

from __future__ import annotations

from octopack.common.background import CANCELLED, FAILED, RUNNING, SUCCEEDED
from octopack.common.errors import InvalidArgument
from octopack.filter.v1 import filter_pb2 as pb
from octopack.services.filter.config import PROFILES, parse_config
from octopack.services.filter.jobs import FilterJob
from octopack.services.filter.run import FilterRequest
from octopack.services.filter.stats import FilterStats

STATES = {
    RUNNING: pb.FILTER_STATE_RUNNING,
    SUCCEEDED: pb.FILTER_STATE_SUCCEEDED,
    FAILED: pb.FILTER_STATE_FAILED,
    CANCELLED: pb.FILTER_STATE_CANCELLED,
}


def request_from_spec(spec: pb.FilterSpec, default_tokenizer: str = "") -> FilterRequest:
    config = parse_config(spec.config_yaml, "spec.config_yaml")
    if spec.profile:
        if spec.profile not in PROFILES:
            raise InvalidArgument(f"spec.profile: {spec.profile!r} is not a data profile; use {' or '.join(PROFILES)}")
        config.profile = spec.profile  # type: ignore[assignment]
    if spec.tokenizer:
        config.tokenizer = spec.tokenizer
    elif not config.tokenizer:
        config.tokenizer = default_tokenizer
    return FilterRequest(spec.source, spec.out, config, spec.ray_address)


def stats_to_proto(stats: FilterStats) -> pb.FilterStats:
    return pb.FilterStats(
        rows_in=stats.rows_in,
        rows_out=stats.rows_out,
        out_by_lang=dict(stats.out_by_lang),
        rules=[
            pb.RuleStats(number=r.number, name=r.name, stage=r.stage, rows_in=r.rows_in, kept=r.kept,
                         dropped=r.dropped, dropped_by_lang=dict(r.dropped_by_lang), description=r.description)
            for r in stats.rules
        ],
    )


def run_to_proto(job: FilterJob) -> pb.FilterRun:
    work = job.work
    plan = work.request["plan"]
    spec = pb.FilterSpec(source=plan["source"], out=work.out, tokenizer=plan["tokenizer"],
                         profile=str(work.request["config_doc"].get("profile", "")))
    total, done, stats = work.counters()
    return pb.FilterRun(
        run_id=work.run_id, state=STATES[job.state], spec=spec, rows_total=total, rows_done=done,
        stats=stats_to_proto(stats) if stats is not None else None, output=work.outcome() if job.state == SUCCEEDED else "",
        error=job.error, input=plan["source"], driver_launches=work.launches,
    )
