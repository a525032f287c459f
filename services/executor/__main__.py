"""``python -m octopack.services.executor`` (or ``octopack service executor``)."""

from __future__ import annotations

from octopack.common.logging import setup_logging
from octopack.common.server import run
from octopack.services.executor.server import executor_service
from octopack.services.executor.settings import ExecutorSettings


def main() -> None:
    setup_logging()
    settings = ExecutorSettings()
    run(settings, [executor_service(settings)])


if __name__ == "__main__":
    main()
