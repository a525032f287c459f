"""Proto <-> domain conversions of the crawler service."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from octopack.common.background import CANCELLED, FAILED, RUNNING, SUCCEEDED, BackgroundJob
from octopack.common.errors import InvalidArgument
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.services.crawler.crawl import CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.policy import NetworkPolicy
from octopack.services.crawler.runs import CrawlRun

STATES = {
    RUNNING: pb.CRAWL_STATE_RUNNING,
    SUCCEEDED: pb.CRAWL_STATE_SUCCEEDED,
    FAILED: pb.CRAWL_STATE_FAILED,
    CANCELLED: pb.CRAWL_STATE_CANCELLED,
}


def options_from(values: dict[str, Any], prefix: str = "spec.") -> CrawlOptions:
    """Validated :class:`CrawlOptions`; a bad field raises :class:`InvalidArgument` naming it."""
    try:
        return CrawlOptions(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"{prefix}{field}: {first['msg']}") from exc


def request_from_spec(spec: pb.CrawlSpec, policy: NetworkPolicy | None = None) -> CrawlRequest:
    """A validated :class:`CrawlRequest` under the server's network ``policy``; bad fields raise
    :class:`InvalidArgument` naming them, a refused repository :class:`PermissionDenied`."""
    options: dict[str, Any] = {
        "branch": spec.branch, "since": spec.since, "until": spec.until, "max_commits": spec.max_commits,
        "languages": tuple(spec.languages), "profile": spec.profile or "paper",
        "corrections": dict(spec.corrections), "network": policy or NetworkPolicy(),
    }
    if spec.all_licenses:
        options["licenses"] = ()
    elif spec.licenses:
        options["licenses"] = tuple(spec.licenses)
    if spec.max_file_bytes:
        options["max_file_bytes"] = spec.max_file_bytes
    request = CrawlRequest(list(spec.repositories), spec.dataset, options_from(options), spec.repositories_file,
                           spec.repositories_dataset, spec.fresh)
    return request.validate()


def crawl_to_proto(job: BackgroundJob[CrawlRun]) -> pb.Crawl:
    run = job.work
    request = run.crawl
    p = run.counters
    o = request.options
    spec = pb.CrawlSpec(
        repositories=request.sources, dataset=request.dataset, branch=o.branch, since=o.since, until=o.until,
        max_commits=o.max_commits, licenses=list(o.licenses), languages=list(o.languages), fresh=request.fresh,
        max_file_bytes=o.max_file_bytes, all_licenses=not o.licenses, repositories_file=request.repositories_file,
        repositories_dataset=request.repositories_dataset, profile=o.profile, corrections=o.corrections,
    )
    progress = pb.CrawlProgress(
        repositories_total=p.repositories_total, repositories_done=p.repositories_done,
        repositories_failed=p.repositories_failed, repositories_resumed=p.repositories_resumed,
        commits_seen=p.commits_seen, samples_emitted=p.samples_emitted, skipped=dict(p.skipped),
        samples_written=p.samples_written, commits_per_second=p.commits_per_second, phase=p.phase,
        driver_launches=run.launches, failures_by_code=dict(p.failures_by_code),
    )
    errors = [pb.RepositoryError(repository=k, message=v, code=p.error_codes.get(k, "")) for k, v in p.errors.items()]
    output = run.outcome() if job.state == SUCCEEDED else ""
    return pb.Crawl(crawl_id=run.run_id, state=STATES[job.state], spec=spec, progress=progress, errors=errors,
                    output=output, error=job.error, licenses=dict(p.licenses))
