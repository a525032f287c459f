"""The dataset store as a library: versioned, immutable Parquet datasets in S3 with atomic manifests.

``store`` (``DatasetStore``), ``writer`` (``VersionWriter``), ``manifest``, ``shards``, ``names`` and
``cleanup`` talk to S3 directly; ``client`` (``DatasetClient``) reaches the same API through the
dataset service; ``convert`` translates between the domain and the ``v1`` protos. The service itself
(``services/datasets``) only adds the gRPC servicer, the registry of open writers and the server.
"""
