"""Executor service: runs untrusted programs in a sandbox."""
