"""``python -m octopack.services.filter`` (or ``octopack service filter``): serve octopack.filter.v1.FilterService until SIGTERM."""

from octopack.common.server import main
from octopack.services.filter.server import filter_service
from octopack.services.filter.settings import FilterSettings

if __name__ == "__main__":
    main(FilterSettings, filter_service)
