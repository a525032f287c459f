"""Serving: a plain PyTorch generation engine with continuous batching, a Ray Serve app and a gRPC server."""
