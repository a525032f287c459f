"""``python -m octopack.services.controller``: serve octopack.jobs.v1.JobService until SIGTERM."""

from __future__ import annotations

from octopack.common.logging import setup_logging
from octopack.common.server import run
from octopack.services.controller.server import controller_service
from octopack.services.controller.settings import ControllerSettings


def main() -> None:
    setup_logging()
    settings = ControllerSettings()
    run(settings, [controller_service(settings)])


if __name__ == "__main__":
    main()
