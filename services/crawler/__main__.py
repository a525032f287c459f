"""``python -m octopack.services.crawler`` (or ``octopack service crawler``): serve octopack.crawler.v1.CrawlerService until SIGTERM."""

from octopack.common.server import main
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings

if __name__ == "__main__":
    main(CrawlerSettings, crawler_service)
