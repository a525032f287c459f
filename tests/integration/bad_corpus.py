"""The corpus of bad requests, generated from the proto descriptors (see test_bad_requests.py).

For each RPC a minimal valid request is the base; the corpus then changes one field at a time, for every
field of the request message and of the messages it holds (three levels down), to values that break
something: empty, blank, a trailing newline, NUL and escape characters, path traversal, option and
transport-helper injection, 64 kB and 2 MiB strings, out-of-range and extreme numbers, NaN and
infinity, unknown enum numbers, oversized lists and maps, JSON and Struct values nested 200 to 100,000
levels deep. Per RPC it adds undecodable bytes: a corrupt message, a truncated one, a string field
that is not UTF-8.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from octopack.crawler.v1 import crawler_pb2
from octopack.datasets.v1 import datasets_pb2
from octopack.executor.v1 import executor_pb2
from octopack.filter.v1 import filter_pb2
from octopack.inference.v1 import inference_pb2
from octopack.jobs.v1 import jobs_pb2

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
