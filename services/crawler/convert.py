"""Proto <-> domain conversions of the crawler service."""

from __future__ import annotations

from pydantic import ValidationError

from octopack.common.errors import InvalidArgument
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.services.crawler.crawl import CrawlRequest
from octopack.services.crawler.jobs import CANCELLED, FAILED, RUNNING, SUCCEEDED, CrawlJob
from octopack.services.crawler.options import CrawlOptions

STATES = {
    RUNNING: pb.CRAWL_STATE_RUNNING,
    SUCCEEDED: pb.CRAWL_STATE_SUCCEEDED,
    FAILED: pb.CRAWL_STATE_FAILED,
    CANCELLED: pb.CRAWL_STATE_CANCELLED,
}


def request_from_spec(spec: pb.CrawlSpec, default_ray: str = "") -> CrawlRequest:
    """A validated :class:`CrawlRequest`; bad fields raise :class:`InvalidArgument` naming them."""
    options: dict = {
        "branch": spec.branch, "since": spec.since, "until": spec.until, "max_commits": spec.max_commits,
        "languages": tuple(spec.languages), "profile": spec.profile or "paper",
        "corrections": dict(spec.corrections),
    }
    if spec.all_licenses:
        options["licenses"] = ()
    elif spec.licenses:
        options["licenses"] = tuple(spec.licenses)
    if spec.max_file_bytes:
        options["max_file_bytes"] = spec.max_file_bytes
    try:
        parsed = CrawlOptions(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"spec.{field}: {first['msg']}") from exc
    request = CrawlRequest(list(spec.repositories), spec.dataset, parsed, spec.ray_address or default_ray,
                           spec.fresh)
    return request.validate()


def crawl_to_proto(job: CrawlJob) -> pb.Crawl:
    crawl = job.work
    request = crawl.request
    with crawl.lock:
        p = crawl.progress
        commits, samples, skipped = p.totals()
        spec = pb.CrawlSpec(
            repositories=request.sources, dataset=request.dataset, branch=request.options.branch,
            since=request.options.since, until=request.options.until, max_commits=request.options.max_commits,
            licenses=list(request.options.licenses), languages=list(request.options.languages),
            ray_address=request.ray_address, fresh=request.fresh, max_file_bytes=request.options.max_file_bytes,
            all_licenses=not request.options.licenses, profile=request.options.profile,
            corrections=request.options.corrections,
        )
        progress = pb.CrawlProgress(
            repositories_total=p.repositories_total, repositories_done=p.repositories_done,
            repositories_failed=p.repositories_failed, repositories_resumed=p.repositories_resumed,
            commits_seen=commits, samples_emitted=samples, skipped=dict(skipped), samples_written=p.samples_written,
        )
        errors = [pb.RepositoryError(repository=k, message=v) for k, v in p.errors.items()]
        output = f"{request.dataset}@{p.version}" if p.version else ""
        licenses = dict(p.licenses)
    return pb.Crawl(crawl_id=crawl.crawl_id, state=STATES[job.state], spec=spec, progress=progress, errors=errors,
                    output=output, error=job.error, licenses=licenses)
