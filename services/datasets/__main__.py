"""``python -m octopack.services.datasets``: serve octopack.datasets.v1.DatasetService until SIGTERM."""

from __future__ import annotations

from octopack.common.logging import setup_logging
from octopack.common.server import run
from octopack.services.datasets.server import datasets_service
from octopack.services.datasets.settings import DatasetsSettings


def main() -> None:
    setup_logging()
    settings = DatasetsSettings()
    run(settings, [datasets_service(settings)])


if __name__ == "__main__":
    main()
