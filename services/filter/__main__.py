"""``python -m octopack.services.filter``: serve octopack.filter.v1.FilterService until SIGTERM."""

from __future__ import annotations

from octopack.common.logging import setup_logging
from octopack.common.server import run
from octopack.services.filter.server import filter_service
from octopack.services.filter.settings import FilterSettings


def main() -> None:
    setup_logging()
    settings = FilterSettings()
    run(settings, [filter_service(settings)])


if __name__ == "__main__":
    main()
