"""Fixtures of the crawler's integration tests (the dataset store on the run's S3 server)."""

from __future__ import annotations

from tests.unit.crawler.conftest import store

__all__ = ["store"]
