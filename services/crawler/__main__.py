"""``python -m octopack.services.crawler``: serve octopack.crawler.v1.CrawlerService until SIGTERM."""

from __future__ import annotations

from octopack.common.logging import setup_logging
from octopack.common.server import run
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings


def main() -> None:
    setup_logging()
    settings = CrawlerSettings()
    run(settings, [crawler_service(settings)])


if __name__ == "__main__":
    main()
