"""The whole OctoPack system on one machine: background processes with health checks (``octopack up``)."""
