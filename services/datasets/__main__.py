"""``python -m octopack.services.datasets`` (or ``octopack service datasets``): serve octopack.datasets.v1.DatasetService until SIGTERM."""

from octopack.common.server import main
from octopack.services.datasets.server import datasets_service
from octopack.services.datasets.settings import DatasetsSettings

if __name__ == "__main__":
    main(DatasetsSettings, datasets_service)
