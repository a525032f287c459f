"""The request rules: what every field gets by default, what a service adds, and the shared value checks."""

from __future__ import annotations

import math

import pytest
from google.protobuf import struct_pb2

from octopack.common.checks import git_date, git_ref, host_port, ray_address, repository, yaml_mapping
from octopack.common.errors import InvalidArgument
from octopack.common.paging import decode, encode, page
from octopack.common.validation import Rule, Rules, items, number, text
from octopack.datasets.v1 import datasets_pb2
from octopack.executor.v1 import executor_pb2
from octopack.jobs.v1 import jobs_pb2


def _refused(rules: Rules, message: object) -> str:
    with pytest.raises(InvalidArgument) as err:
        rules.check(message)  # type: ignore[arg-type]
    return err.value.message


def test_defaults_hold_for_every_field_of_every_message() -> None:
    rules = Rules()
    spec = jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=["ok", "bad\n"]))
    assert _refused(rules, jobs_pb2.SubmitJobRequest(spec=spec)) == (
        "spec.crawl.repositories[1]: contains the control character '\\n' at 3")
    assert _refused(rules, jobs_pb2.GetJobRequest(job_id="x" * 1025)) == "job_id: has 1025 characters; at most 1024"
    assert "at most 1000" in _refused(rules, jobs_pb2.ListJobsRequest(states=[1] * 1001))
    assert _refused(rules, jobs_pb2.ListJobsRequest(states=[1, 42])).startswith(
        "states[1]: 42 is not a value of octopack.jobs.v1.State; use one of STATE_UNSPECIFIED")
    program = executor_pb2.Program(limits=executor_pb2.Limits(timeout_seconds=math.nan))
    assert _refused(rules, executor_pb2.ExecuteRequest(program=program)) == (
        "program.limits.timeout_seconds: must be a finite number, not nan")
    labels = jobs_pb2.JobSpec(labels={"k\x00": "v"})
    assert _refused(rules, labels).startswith("labels key 'k\\x00': contains the control character")
    rules.check(jobs_pb2.SubmitJobRequest(spec=jobs_pb2.JobSpec(name="fine", labels={"a": "b"})))


def test_structs_are_bounded_in_depth() -> None:
    inner = struct_pb2.Struct()  # each level is two messages (Struct, Value); protobuf itself stops at 100
    for _ in range(20):
        outer = struct_pb2.Struct()
        outer.fields["a"].struct_value.CopyFrom(inner)
        inner = outer
    message = datasets_pb2.CommitVersionRequest(writer_id="0", stats=inner)
    assert "nested more than 32 levels deep" in _refused(Rules(), message)


def test_a_service_rule_replaces_the_default_for_its_field() -> None:
    p = "octopack.executor.v1.Program."
    rules = Rules(fields={p + "source": text(10, raw=True), p + "id": Rule(pattern=r"[a-z]+", hint="lower-case")})
    rules.check(executor_pb2.Program(source="\x0c\x1b ok"))  # raw: any character
    assert _refused(rules, executor_pb2.Program(source="x" * 11)) == "source: has 11 characters; at most 10"
    assert _refused(rules, executor_pb2.Program(id="Ab")) == "id: 'Ab' is not lower-case (regex [a-z]+)"
    multi = Rules(fields={p + "source": text(100, multiline=True)})
    multi.check(executor_pb2.Program(source="a\n\tb\r\n"))
    assert "control character" in _refused(multi, executor_pb2.Program(source="a\x00"))


def test_checks_numbers_and_message_checks_name_the_field() -> None:
    def both(spec: jobs_pb2.JobSpec) -> None:
        if spec.name and not spec.labels:
            raise InvalidArgument("labels: required with a name")

    rules = Rules(
        fields={"octopack.jobs.v1.TrainConfig.max_steps": number(0, 10),
                "octopack.jobs.v1.CrawlConfig.repositories": items(2, check=repository)},
        messages={"octopack.jobs.v1.JobSpec": both},
    )
    assert _refused(rules, jobs_pb2.JobSpec(train=jobs_pb2.TrainConfig(max_steps=11))) == (
        "train.max_steps: is 11; must be at most 10")
    assert _refused(rules, jobs_pb2.SubmitJobRequest(spec=jobs_pb2.JobSpec(name="x"))) == (
        "spec: labels: required with a name")
    crawl = jobs_pb2.CrawlConfig(repositories=["-uhelp"])
    assert "starts with '-'" in _refused(rules, jobs_pb2.JobSpec(crawl=crawl))
    assert "at most 2" in _refused(rules, jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=["a"] * 3)))
    merged = rules | Rules(messages={"octopack.jobs.v1.JobSpec": lambda spec: None})
    assert _refused(merged, jobs_pb2.JobSpec(name="x")) == "labels: required with a name"


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (repository, "ext::sh -c id"), (repository, "ftp://host/r"), (repository, "https:///r"),
        (repository, " https://host/r"), (repository, "https://host:port/r"),
        (git_ref, "main..x"), (git_ref, "-b"), (git_ref, "a b"), (git_ref, "x.lock"), (git_ref, "a//b"),
        (git_ref, "@"), (git_date, "2100-01-01"), (git_date, "1969-12-31"), (git_date, "yesterday"),
        (host_port, "h"), (host_port, "h:0"), (host_port, "h:99999"), (yaml_mapping, "a: [1"),
        (yaml_mapping, "- 1"), (yaml_mapping, "a: &x 1\nb: *x"), (ray_address, "ray://10.0.0.5:10001"),
        (ray_address, "auto"), (ray_address, "not an address"),
    ],
)
def test_shared_checks_refuse(check, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        check(value)


def test_shared_checks_accept() -> None:
    for value in ("https://github.com/psf/requests", "git@github.com:o/r.git", "/srv/repos/r", "file:///srv/r",
                  "ssh://git@host:2222/r.git", "relative/path"):
        repository(value)
    for value in ("main", "feature/x-1", "release-2.0"):
        git_ref(value)
    for value in ("2024-01-31", "2099-12-31", "1970-01-01", "2024-01-31T10:00:00"):
        git_date(value)
    host_port("inference.ns.svc:9000")
    host_port("[::1]:50051")
    assert yaml_mapping("") == {} and yaml_mapping("a: {b: 1}") == {"a": {"b": 1}}
    ray_address("127.0.0.1:6379")
    ray_address("ray://localhost:10001")
    ray_address("10.0.0.5:6379", configured="10.0.0.5:6379")
    with pytest.raises(ValueError, match="leave ray_address empty"):
        ray_address("127.0.0.1:6379", configured="10.0.0.5:6379")


def test_pages_are_bounded_in_count_and_bytes_and_resume_after_the_last_item() -> None:
    items_ = [{"id": i, "size": 1000} for i in range(10)]
    key, size = (lambda d: [d["id"]]), (lambda d: d["size"])
    first, token = page(items_, key, size, page_size=4)
    assert [d["id"] for d in first] == [0, 1, 2, 3] and decode(token) == [3]
    second, token = page(items_, key, size, page_size=4, token=token)
    assert [d["id"] for d in second] == [4, 5, 6, 7]
    last, token = page(items_, key, size, page_size=4, token=token)
    assert [d["id"] for d in last] == [8, 9] and token == ""
    by_bytes, token = page(items_, key, size, budget=2500)
    assert len(by_bytes) == 2 and token
    newest, _ = page(items_[::-1], key, size, page_size=3, descending=True, token=encode([5]))
    assert [d["id"] for d in newest] == [4, 3, 2]
    one, _ = page([{"id": 0, "size": 10**9}], key, size)  # a page always moves forward
    assert len(one) == 1
    with pytest.raises(InvalidArgument, match="page_token"):
        page(items_, key, size, token="not a token")
    with pytest.raises(InvalidArgument, match="page_size"):
        page(items_, key, size, page_size=-1)
