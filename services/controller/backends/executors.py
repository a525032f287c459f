"""Executor Deployments scaled up while a job evaluates, through their ``deployments/scale`` subresource
only (all the chart's Role allows on them), and back to their size afterwards.

The size before is kept in the job document (the evaluate stage's ``outputs.details``), not on the
Deployments, so clean-up restores it after a controller restart too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.settings import ControllerSettings

#: Keys of the evaluate stage's outputs.details: each Deployment's replicas before the job scaled it and
#: the count the job set.
REPLICAS_BEFORE = "executors/replicas-before/"
REPLICAS_SET = "executors/replicas-set/"


class ExecutorScaler:
    """Scales the executor Deployments that ``settings.executor_selector`` finds."""

    def __init__(self, apps: Any, namespace: str, settings: ControllerSettings, poll: float) -> None:
        self.apps = apps
        self.ns = namespace
        self.settings = settings
        self.poll = poll
        # Deployments this controller holds scaled, per evaluating job: {deployment: {job: before}}.
        # One controller drives every job, so two evaluations at once share one original size.
        self.holders: dict[str, dict[str, int]] = {}

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _ignore_missing(self, fn: Callable[..., Any], *args: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return await self._call(fn, *args)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return None

    async def names(self) -> list[str]:
        """Names of the executor Deployments (listing Deployments is all the Role allows beyond scale)."""
        if not self.settings.executor_selector:
            return []  # a release without executors (the evaluation then reaches none)
        found = await self._call(
            self.apps.list_namespaced_deployment, self.ns, label_selector=self.settings.executor_selector
        )
        return sorted(dep.metadata.name for dep in found.items)

    async def scale_up(self, ctx: StageContext) -> None:
        """Scale each executor Deployment up through its scale subresource (all the Role allows on them);
        the size before goes into the job document first, so clean-up restores it even after a restart."""
        record: dict[str, str] = {}
        targets: dict[str, int] = {}
        for name in await self.names():
            holders = self.holders.setdefault(name, {})
            if REPLICAS_BEFORE + name in ctx.state:  # an earlier attempt of this job scaled it
                before = int(ctx.state[REPLICAS_BEFORE + name])
            elif holders:  # another job is evaluating: its record holds the original size
                before = next(iter(holders.values()))
            else:
                scale = await self._call(self.apps.read_namespaced_deployment_scale, name, self.ns)
                before = scale.spec.replicas or 0
            holders[ctx.job_id] = before
            targets[name] = max(before, self.settings.executor_replicas)
            record[REPLICAS_BEFORE + name] = str(before)
            record[REPLICAS_SET + name] = str(targets[name])
        await ctx.save(record)
        for name, target in targets.items():
            body = {"spec": {"replicas": target}}
            await self._call(self.apps.patch_namespaced_deployment_scale, name, self.ns, body)

    async def wait_ready(self) -> None:
        """Until every executor Deployment has as many ready replicas as it asks for."""
        while self.settings.executor_selector:
            found = await self._call(
                self.apps.list_namespaced_deployment, self.ns, label_selector=self.settings.executor_selector
            )
            if all((d.status.ready_replicas or 0) >= (d.spec.replicas or 0) for d in found.items):
                return
            await asyncio.sleep(self.poll)

    async def restore(self, job: jobs_pb2.Job) -> None:
        """Give each executor Deployment the job scaled back its recorded size, unless another job of
        this controller still evaluates on it, or (after a restart) someone changed its size since."""
        details: dict[str, str] = {}
        for stage in job.stages:
            if stage.kind == jobs_pb2.STAGE_KIND_EVALUATE:
                details = dict(stage.outputs.details)
        for key, value in sorted(details.items()):
            if not key.startswith(REPLICAS_BEFORE):
                continue
            name, before = key.removeprefix(REPLICAS_BEFORE), int(value)
            holders = self.holders.get(name, {})
            held = holders.pop(job.id, None) is not None
            if holders:
                continue  # still in use; the last job to finish restores the size
            scale = await self._ignore_missing(self.apps.read_namespaced_deployment_scale, name, self.ns)
            if scale is None:
                continue
            current = scale.spec.replicas or 0
            if not held and str(current) != details.get(REPLICAS_SET + name):
                continue  # restored already, or resized by someone else since
            if current != before:
                body = {"spec": {"replicas": before}}
                await self._ignore_missing(self.apps.patch_namespaced_deployment_scale, name, self.ns, body)
