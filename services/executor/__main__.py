"""``python -m octopack.services.executor`` (or ``octopack service executor``): serve octopack.executor.v1.ExecutorService until SIGTERM."""

from octopack.common.server import main
from octopack.services.executor.server import executor_service
from octopack.services.executor.settings import ExecutorSettings

if __name__ == "__main__":
    main(ExecutorSettings, executor_service)
