"""``python -m octopack.services.controller`` (or ``octopack service controller``): serve octopack.jobs.v1.JobService until SIGTERM."""

from octopack.common.server import main
from octopack.services.controller.server import controller_service
from octopack.services.controller.settings import ControllerSettings

if __name__ == "__main__":
    main(ControllerSettings, controller_service)
