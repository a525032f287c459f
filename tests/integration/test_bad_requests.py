"""A corpus of bad requests, generated from the proto descriptors, sent to every RPC of every service.

For each RPC a minimal valid request is the base; the corpus then changes one field at a time, for every
field of the request message and of the messages it holds (three levels down), to values that break
something: empty, blank, a trailing newline, NUL and escape characters, path traversal, option and
transport-helper injection, 64 kB and 2 MiB strings, out-of-range and extreme numbers, NaN and
infinity, unknown enum numbers, oversized lists and maps, JSON and Struct values nested 200 to 100,000
levels deep. Per RPC it adds undecodable bytes: a corrupt message, a truncated one, a string field
that is not UTF-8. The servers are the real ones on loopback (the controller with a backend whose
stages finish at once, the real dataset store on the S3 server, the real executor, the inference
service with a tiny model). No answer may be INTERNAL or UNKNOWN: bad input is the caller's fault, and
the answer must say so (INVALID_ARGUMENT, NOT_FOUND, ...).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from octopack.common.server import RunningServer, Service, start_server
from octopack.crawler.v1 import crawler_pb2
from octopack.datasets.v1 import datasets_pb2
from octopack.executor.v1 import executor_pb2
from octopack.filter.v1 import filter_pb2
from octopack.inference.v1 import inference_pb2
from octopack.jobs.v1 import jobs_pb2

pytestmark = [pytest.mark.integration, pytest.mark.ray]

FORBIDDEN = {"INTERNAL", "UNKNOWN"}
STRINGS = [
    "", " ", "x\n", "a\x00b", "\x1b[31mred", "\u2028", "../../etc/passwd", "/etc/passwd", "-uhelp",
    "ext::sh -c id", "latest", "é" * 10, "a" * 65_536,
]
HUGE = "b" * (2 << 20)
FLOATS = [math.nan, math.inf, -math.inf, -1.0, 1e308]
LIMITS = {
    FieldDescriptor.TYPE_INT32: [-1, -(2**31), 2**31 - 1], FieldDescriptor.TYPE_INT64: [-1, -(2**63), 2**63 - 1],
    FieldDescriptor.TYPE_UINT32: [2**32 - 1], FieldDescriptor.TYPE_UINT64: [2**64 - 1],
}
STRUCT_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


@dataclass
class Case:
    method: MethodDescriptor
    label: str
    payload: list[bytes]  # one message, or the messages of a request stream


def deep_struct(depth: int) -> struct_pb2.Struct:
    inner = struct_pb2.Struct()
    inner.update({"leaf": 1})
    for _ in range(depth):
        outer = struct_pb2.Struct()
        outer.fields["a"].struct_value.CopyFrom(inner)
        inner = outer
    return inner


def _target(message: Message, path: list[FieldDescriptor]) -> Message:
    """The message that holds the last field of ``path`` (singular message fields are created on the way)."""
    for fd in path[:-1]:
        message = getattr(message, fd.name)
    return message


def _bad_values(fd: FieldDescriptor) -> Iterator[tuple[str, Any]]:
    kind = fd.type
    if kind == FieldDescriptor.TYPE_STRING:
        for s in STRINGS:
            yield f"{s[:12]!r}{'...' if len(s) > 12 else ''}", s
        yield "2 MiB", HUGE
        if fd.name in ("records",):
            yield "JSON 100000 deep", "[" * 100_000 + "]" * 100_000
            yield "JSON object 200 deep", '{"a":' * 200 + "1" + "}" * 200
    elif kind == FieldDescriptor.TYPE_BYTES:
        yield "garbage", b"\x00\xffnot arrow"
        yield "2 MiB", b"\x01" * (2 << 20)
    elif kind == FieldDescriptor.TYPE_ENUM:
        yield "enum 99", 99
        yield "enum -7", -7
    elif kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        for f in FLOATS:
            yield repr(f), f
    elif kind in LIMITS:
        for n in LIMITS[kind]:
            yield str(n), n
    elif kind == FieldDescriptor.TYPE_BOOL:
        yield "true", True


def _set(message: Message, path: list[FieldDescriptor], value: Any, many: int = 1) -> None:
    holder = _target(message, path)
    fd = path[-1]
    if fd.is_repeated:
        field = getattr(holder, fd.name)
        del field[:]
        field.extend([value] * many)
    else:
        setattr(holder, fd.name, value)


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def mutations(base: Message, descriptor: Descriptor, path: list[FieldDescriptor], depth: int = 0) -> Iterator[tuple[str, Message]]:
    """(label, request) with one field of ``base`` set to a bad value, for every field three levels down."""
    for fd in descriptor.fields:
        where = [*path, fd]
        name = ".".join(f.name for f in where)
        if _is_map(fd):
            for label, entries in (("bad key", {"bad key\n": "v"}), ("5000 entries", {f"k{i}": "v" for i in range(5000)})):
                request = copy.deepcopy(base)
                target = getattr(_target(request, where), fd.name)
                value_fd = fd.message_type.fields_by_name["value"]
                for key, val in entries.items():
                    if value_fd.type == FieldDescriptor.TYPE_STRING:
                        target[key] = val
                    elif value_fd.type == FieldDescriptor.TYPE_MESSAGE:
                        target[key].SetInParent()
                    else:
                        target[key] = 1
                yield f"{name}: {label}", request
            continue
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.message_type.full_name in STRUCT_TYPES:
                if fd.message_type.full_name == "google.protobuf.Struct":
                    for depth_ in (40, 200):
                        request = copy.deepcopy(base)
                        holder = _target(request, where)
                        if fd.is_repeated:
                            getattr(holder, fd.name).add().CopyFrom(deep_struct(depth_))
                        else:
                            getattr(holder, fd.name).CopyFrom(deep_struct(depth_))
                        yield f"{name}: Struct {depth_} deep", request
                continue
            if fd.is_repeated:
                request = copy.deepcopy(base)
                field = getattr(_target(request, where), fd.name)
                for _ in range(5000):
                    field.add()
                yield f"{name}: 5000 empty messages", request
            if depth < 3 and fd.message_type.full_name != descriptor.full_name:
                inner = copy.deepcopy(base)
                holder = _target(inner, where)
                if fd.is_repeated:
                    if not len(getattr(holder, fd.name)):
                        getattr(holder, fd.name).add()
                    # Mutate the first element: walk into it through a copy of the path.
                    for label, request in _element_mutations(inner, where, fd, depth):
                        yield label, request
                    continue
                getattr(holder, fd.name).SetInParent()
                yield from mutations(inner, fd.message_type, where, depth + 1)
            continue
        for label, value in _bad_values(fd):
            request = copy.deepcopy(base)
            try:
                _set(request, where, value)
            except (TypeError, ValueError):
                continue  # not representable in this field type (the wire cases cover the rest)
            yield f"{name}: {label}", request
        if fd.is_repeated:
            for _label, value in list(_bad_values(fd))[:1]:
                request = copy.deepcopy(base)
                _set(request, where, value if fd.type != FieldDescriptor.TYPE_STRING else "x", many=20_000)
                yield f"{name}: 20000 entries", request


def _element_mutations(request: Message, where: list[FieldDescriptor], fd: FieldDescriptor, depth: int) -> Iterator[tuple[str, Message]]:
    element_type = fd.message_type
    base_element = getattr(_target(request, where), fd.name)[0]
    for label, mutated in mutations(copy.deepcopy(base_element), element_type, [], depth + 1):
        out = copy.deepcopy(request)
        getattr(_target(out, where), fd.name)[0].CopyFrom(mutated)
        yield f"{'.'.join(f.name for f in where)}[0].{label}", out


def _wire_cases(method: MethodDescriptor, base: Message) -> Iterator[tuple[str, bytes]]:
    raw = base.SerializeToString()
    yield "corrupt bytes", b"\xff\xff\xff\xff\xff\xff\xff"
    if len(raw) > 2:
        yield "truncated", raw[: len(raw) // 2 + 1]
    strings = [fd for fd in method.input_type.fields if fd.type == FieldDescriptor.TYPE_STRING]
    for fd in strings[:2]:
        tag = bytes([(fd.number << 3) | 2]) if fd.number < 16 else None
        if tag is not None:
            yield f"{fd.name}: not UTF-8", raw + tag + b"\x04\xff\xfe\xc3\x28"
    yield "wrong wire type for field 1", raw + b"\x0d\x00\x00\x00\x00"


def corpus(services: dict[str, tuple[Any, dict[str, list[Message]]]]) -> Iterator[tuple[str, Case]]:
    for service, (descriptor, bases) in services.items():
        for method in descriptor.methods:
            base_stream = bases.get(method.name) or [getattr(_module(method), method.input_type.name)()]
            base = base_stream[0]
            rest = [m.SerializeToString() for m in base_stream[1:]]
            for label, request in mutations(base, method.input_type, []):
                yield service, Case(method, label, [request.SerializeToString(), *rest])
            for label, payload in _wire_cases(method, base):
                yield service, Case(method, label, [payload, *rest])


def _module(method: MethodDescriptor) -> Any:
    return {
        "octopack.jobs.v1": jobs_pb2, "octopack.datasets.v1": datasets_pb2, "octopack.crawler.v1": crawler_pb2,
        "octopack.filter.v1": filter_pb2, "octopack.executor.v1": executor_pb2, "octopack.inference.v1": inference_pb2,
    }[method.containing_service.file.package]


async def send(channel: grpc.aio.Channel, case: Case) -> str:
    """The status code name of one call (OK when it succeeded)."""
    path = f"/{case.method.containing_service.full_name}/{case.method.name}"
    identity = (lambda b: b, lambda b: b)
    try:
        if case.method.client_streaming:
            async def requests() -> Any:
                for item in case.payload:
                    yield item
            if case.method.server_streaming:
                call = channel.stream_stream(path, *identity)(requests(), timeout=60)
                async for _ in call:
                    pass
            else:
                await channel.stream_unary(path, *identity)(requests(), timeout=60)
        elif case.method.server_streaming:
            call = channel.unary_stream(path, *identity)(case.payload[0], timeout=60)
            async for _ in call:
                pass
        else:
            await channel.unary_unary(path, *identity)(case.payload[0], timeout=60)
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return "OK"


# ---- the servers ---------------------------------------------------------------------------------------


class Instant:
    """A controller backend whose every stage succeeds at once (what reaches it passed validation)."""

    name = "instant"

    async def run(self, ctx: Any) -> jobs_pb2.StageOutputs:
        return jobs_pb2.StageOutputs(details={"stage": ctx.stage})

    async def cleanup(self, job: Any) -> None:
        return None

    async def close(self) -> None:
        return None


async def _servers(tmp_path: Path, s3_settings: Any, tiny_model: Path) -> dict[str, RunningServer]:
    from octopack.ray_jobs.serve.server import inference_service
    from octopack.ray_jobs.serve.settings import ServeSettings
    from octopack.services.controller.server import controller_service
    from octopack.services.controller.settings import ControllerSettings
    from octopack.services.controller.store import MemoryStore
    from octopack.services.crawler.server import crawler_service
    from octopack.services.crawler.settings import CrawlerSettings
    from octopack.services.datasets.server import datasets_service
    from octopack.services.datasets.settings import DatasetsSettings
    from octopack.services.executor.server import executor_service
    from octopack.services.executor.settings import ExecutorSettings
    from octopack.services.filter.server import filter_service
    from octopack.services.filter.settings import FilterSettings

    loopback = {"host": "127.0.0.1", "port": 0}
    built: dict[str, tuple[Any, Service]] = {}
    settings: Any = ControllerSettings(**loopback)
    built["controller"] = (settings, controller_service(settings, MemoryStore(), Instant()))  # type: ignore[arg-type]
    settings = DatasetsSettings(**loopback)
    built["datasets"] = (settings, datasets_service(settings, s3_settings))
    settings = CrawlerSettings(**loopback, work_dir=tmp_path / "crawler", workers=1)
    built["crawler"] = (settings, crawler_service(settings, s3_settings))
    settings = FilterSettings(**loopback)
    built["filter"] = (settings, filter_service(settings, s3_settings))
    settings = ExecutorSettings(**loopback, language="python", concurrency=2)
    built["executor"] = (settings, executor_service(settings))
    settings = ServeSettings(**loopback, model=str(tiny_model), device="cpu", torch_threads=1, batch_wait_ms=1)
    built["inference"] = (settings, inference_service(settings))
    return {name: await start_server(s, [svc]) for name, (s, svc) in built.items()}


def _bases(writer_id: str, repo: Path) -> dict[str, tuple[Any, dict[str, list[Message]]]]:
    """Per service: its proto service and a valid request per RPC (the empty one where none is given)."""
    program = executor_pb2.Program(language=executor_pb2.LANGUAGE_PYTHON, source="print(1)", id="p1")
    params = inference_pb2.SamplingParams(max_new_tokens=2)
    return {
        "controller": (jobs_pb2.DESCRIPTOR.services_by_name["JobService"], {
            "SubmitJob": [jobs_pb2.SubmitJobRequest(spec=jobs_pb2.JobSpec(
                crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)]), filter=jobs_pb2.FilterConfig(),
                train=jobs_pb2.TrainConfig(), serve=jobs_pb2.ServeConfig(),
                evaluate=jobs_pb2.EvaluateConfig(languages=["python"]), retry=jobs_pb2.RetryPolicy()))],
            "GetJob": [jobs_pb2.GetJobRequest(job_id="job-000000000000")],
            "CancelJob": [jobs_pb2.CancelJobRequest(job_id="job-000000000000")],
            "WatchJob": [jobs_pb2.WatchJobRequest(job_id="job-000000000000")],
        }),
        "datasets": (datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"], {
            "CreateVersion": [datasets_pb2.CreateVersionRequest(name="corpus", parents=["corpus-parent"])],
            "WriteRecords": [datasets_pb2.WriteRecordsRequest(
                writer_id=writer_id, json=datasets_pb2.JsonRecords(records=['{"a": 1}']))],
            "CommitVersion": [datasets_pb2.CommitVersionRequest(writer_id="0" * 32)],
            "AbortVersion": [datasets_pb2.AbortVersionRequest(writer_id="0" * 32)],
            "GetDataset": [datasets_pb2.GetDatasetRequest(name="corpus-parent", version="v1")],
            "ListVersions": [datasets_pb2.ListVersionsRequest(name="corpus-parent")],
            "ReadRecords": [datasets_pb2.ReadRecordsRequest(name="corpus-parent", columns=["a"], batch_size=1)],
            "DeleteVersion": [datasets_pb2.DeleteVersionRequest(name="corpus-gone", version="v1")],
        }),
        "crawler": (crawler_pb2.DESCRIPTOR.services_by_name["CrawlerService"], {
            "StartCrawl": [crawler_pb2.StartCrawlRequest(spec=crawler_pb2.CrawlSpec(
                repositories=[str(repo)], dataset="corpus-crawl", max_commits=1))],
            "GetCrawl": [crawler_pb2.GetCrawlRequest(crawl_id="nope-000000000000")],
            "WatchCrawl": [crawler_pb2.WatchCrawlRequest(crawl_id="nope-000000000000")],
            "CancelCrawl": [crawler_pb2.CancelCrawlRequest(crawl_id="nope-000000000000")],
        }),
        "filter": (filter_pb2.DESCRIPTOR.services_by_name["FilterService"], {
            "StartFilter": [filter_pb2.StartFilterRequest(spec=filter_pb2.FilterSpec(
                source="corpus-parent", out="corpus-ft", config_yaml="token_length: {enabled: false}\n"))],
            "GetFilter": [filter_pb2.GetFilterRequest(run_id="0123456789ab")],
            "WatchFilter": [filter_pb2.WatchFilterRequest(run_id="0123456789ab")],
        }),
        "executor": (executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"], {
            "Execute": [executor_pb2.ExecuteRequest(program=program)],
            "ExecuteBatch": [executor_pb2.ExecuteBatchRequest(programs=[program])],
            "ExecuteStream": [executor_pb2.ExecuteStreamRequest(program=program)],
        }),
        "inference": (inference_pb2.DESCRIPTOR.services_by_name["InferenceService"], {
            "Generate": [inference_pb2.GenerateRequest(prompts=["def f():"], params=params)],
            "GenerateStream": [inference_pb2.GenerateStreamRequest(prompts=["def f():"], params=params)],
        }),
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-corpus"))


async def test_no_rpc_answers_internal_or_unknown_to_a_generated_corpus_of_bad_requests(
    tmp_path: Path, s3_settings: Any, tiny_model: Path
) -> None:
    from octopack.datasets.store import DatasetStore
    from tests.unit.crawler.gitrepo import Repo

    store = DatasetStore.from_settings(s3_settings)
    writer = store.create_version("corpus-parent")
    writer.write([{"a": 1}, {"a": 2}])
    writer.commit()
    repo = Repo(tmp_path / "repo")
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    servers = await _servers(tmp_path, s3_settings, tiny_model)
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    bad: list[str] = []
    try:
        channels = {name: grpc.aio.insecure_channel(s.address) for name, s in servers.items()}
        open_writer = await channels["datasets"].unary_unary(
            "/octopack.datasets.v1.DatasetService/CreateVersion",
            datasets_pb2.CreateVersionRequest.SerializeToString, datasets_pb2.CreateVersionResponse.FromString,
        )(datasets_pb2.CreateVersionRequest(name="corpus-writes"))
        cases = list(corpus(_bases(open_writer.writer_id, repo.path)))
        semaphore = asyncio.Semaphore(8)

        async def one(service: str, case: Case) -> None:
            async with semaphore:
                code = await send(channels[service], case)
            sent[service][code] += 1
            if code in FORBIDDEN:
                bad.append(f"{service} {case.method.name} [{case.label}]: {code}")

        await asyncio.gather(*(one(service, case) for service, case in cases))
        for channel in channels.values():
            await channel.close()
        # The servers still serve after the corpus.
        for name, server in servers.items():
            async with grpc.aio.insecure_channel(server.address) as channel:
                from grpc_health.v1 import health_pb2, health_pb2_grpc

                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    finally:
        for server in servers.values():
            await server.stop(0)
    summary = {service: dict(sorted(codes.items())) for service, codes in sorted(sent.items())}
    print("\nrequests per service and the codes they got:\n" + json.dumps(summary, indent=1))
    assert set(summary) == {"controller", "datasets", "crawler", "filter", "executor", "inference"}
    assert sum(sum(c.values()) for c in sent.values()) > 1000
    for service, codes in sent.items():
        assert codes["INVALID_ARGUMENT"] > 0, service
    assert bad == []
