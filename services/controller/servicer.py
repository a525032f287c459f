"""gRPC surface of the controller: proto in, :class:`Controller` call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from octopack.services.controller.engine import Controller


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """octopack.jobs.v1.JobService."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    async def SubmitJob(
        self, request: jobs_pb2.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.SubmitJobResponse:
        job, created = await self.controller.submit(request.spec, request.idempotency_key)
        return jobs_pb2.SubmitJobResponse(job=job, created=created)

    async def GetJob(
        self, request: jobs_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.GetJobResponse:
        return jobs_pb2.GetJobResponse(job=await self.controller.get(request.job_id))

    async def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        jobs, token = await self.controller.list(list(request.states), request.page_size, request.page_token)
        return jobs_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelJob(
        self, request: jobs_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.CancelJobResponse:
        return jobs_pb2.CancelJobResponse(job=await self.controller.cancel(request.job_id))

    async def WatchJob(  # type: ignore[override]
        self, request: jobs_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.WatchJobResponse]:
        async for event in self.controller.watch(request.job_id):
            yield jobs_pb2.WatchJobResponse(
                type=event.type,  # type: ignore[arg-type]
                job=event.job,
                stage=event.stage,  # type: ignore[arg-type]
                message=event.message,
            )
