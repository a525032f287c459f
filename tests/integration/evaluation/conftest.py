"""Fixtures shared by the evaluation integration tests."""

from test_eval_run import executor_address  # noqa: F401  (a real executor on a loopback port)
