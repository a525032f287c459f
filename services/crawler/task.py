"""The unit of parallel work: crawl one repository into its checkpoint. Runs in a worker process or Ray task."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

from octopack.common.errors import Cancelled, OctopackError, status_code
from octopack.services.crawler import policy
from octopack.services.crawler.checkpoint import Checkpoints
from octopack.services.crawler.gitio import GitError
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.repository import RepoResult, crawl_repository
from octopack.services.crawler.samples import SampleWriter

log = logging.getLogger(__name__)


def crawl_task(source: str, options_json: str, cache_dir: str, checkpoint_dir: str) -> dict:
    """Crawl ``source`` into the checkpoint folder; return the :class:`RepoResult` as a dict.

    A failure never raises: it comes back as ``error`` so one broken repository
    does not stop the others, and leaves no completion marker (a rerun retries it).
    """
    options = CrawlOptions.model_validate_json(options_json)
    checkpoints = Checkpoints(Path(checkpoint_dir))
    final = checkpoints.partial(source)
    tmp = final.with_name(final.name + f".{os.getpid()}.tmp")
    writer = SampleWriter(tmp)
    cancelled = checkpoints.cancel_marker.exists

    def progress(result: RepoResult) -> None:
        checkpoints.write_progress(result)
        if cancelled():  # between commits of a long walk
            raise Cancelled(f"crawl of {source} cancelled")

    try:
        # Every git command of this repository stops (its process group killed) once the crawl is cancelled.
        with policy.cancelled_by(cancelled):
            result = crawl_repository(source, options, Path(cache_dir), writer, progress)
        writer.close()
    except (OctopackError, GitError, OSError, UnicodeError, ValueError) as exc:
        writer.close()
        tmp.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, OctopackError) else str(exc)
        log.warning("repository %s failed: %s", source, message)
        return RepoResult(source, error=message, error_code=status_code(exc) or "").to_dict()
    except Exception as exc:  # an unexpected bug: keep the crawl going, keep the traceback
        writer.close()
        tmp.unlink(missing_ok=True)
        log.error("repository %s failed unexpectedly:\n%s", source, traceback.format_exc())
        return RepoResult(source, error=f"unexpected error: {exc!r}").to_dict()
    os.replace(tmp, final)
    checkpoints.mark_done(result)
    return result.to_dict()
