"""Keep Ray Serve's own gRPC listeners on the node's address when the node is loopback-only.

Ray binds its core services to the node address (127.0.0.1 on the local stack), but Serve opens
two gRPC servers on every interface whatever the node address is: the gRPC proxy and each
replica's inter-deployment server (``[::]:port``). :func:`keep_serve_on_node_address` runs in every
Ray worker process of a job (Ray's ``worker_process_setup_hook``, set by
:func:`octopack.ray_jobs.cluster.ensure_ray`) and, on a loopback node only, binds those two to the
node address instead. On any other node (a Kubernetes pod) it changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
#: The import path Ray runs in each worker process.
HOOK = "octopack.ray_jobs.loopback.keep_serve_on_node_address"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ANY = "[::]"


def keep_serve_on_node_address() -> None:
    """Replace Serve's any-interface binds with the node address (when that is loopback)."""
    import ray

    node = ray.util.get_node_ip_address()
    if node not in _LOOPBACK:
        return
    try:
        from ray.serve._private import default_impl, replica
    except ImportError:  # no Serve in this installation: nothing binds
        return
    host = f"[{node}]" if ":" in node else node

    def on_node(bind: Any) -> Any:
        def add(server: Any, address: str) -> Any:
            return bind(server, address.replace(_ANY, host, 1) if address.startswith(_ANY) else address)

        return add

    # Both are looked up at call time: the proxy's through default_impl, the replica's as a module global.
    default_impl.add_grpc_address = on_node(default_impl.add_grpc_address)
    replica.add_port_to_grpc_server = on_node(replica.add_port_to_grpc_server)
