"""The dataset service: gRPC servicer, registry of open writers and server over :mod:`octopack.datasets`."""
