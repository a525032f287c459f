"""ObjectStore and LocalS3Server against a real SeaweedFS server."""

from __future__ import annotations

import os
import re
import signal
import tempfile
import threading
from pathlib import Path

import pytest

from octopack.common.errors import NotFound, Unavailable
from octopack.common.objectstore import ConditionFailed, ObjectStore, S3Settings
from octopack.common.s3server import LocalS3Server

pytestmark = pytest.mark.integration


def test_put_get_list_copy_delete(objects: ObjectStore) -> None:
    etag = objects.put("a/b.txt", b"hello", content_type="text/plain")
    assert objects.get("a/b.txt") == b"hello"
    assert objects.get_with_etag("a/b.txt") == (b"hello", etag)
    objects.put("a/c/d.bin", b"\x00" * 10)
    assert objects.exists("a/b.txt") and not objects.exists("a/zzz")
    assert objects.stat("a/c/d.bin").size == 10  # type: ignore[union-attr]
    assert objects.list_keys("a/") == ["a/b.txt", "a/c/d.bin"]
    assert objects.list_prefixes("a/") == ["c"]
    objects.copy("a/b.txt", "x/copy.txt")
    assert objects.get("x/copy.txt") == b"hello"
    assert objects.delete_prefix("a/") == 2
    assert objects.list_keys("") == ["x/copy.txt"]
    with pytest.raises(NotFound, match=r"a/b\.txt"):
        objects.get("a/b.txt")
    objects.delete("a/b.txt")  # deleting a missing key is fine


def test_files(objects: ObjectStore, tmp_path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"0123456789" * 1000)
    objects.put_file("f/src.bin", src)
    objects.get_file("f/src.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


def test_conditional_put(objects: ObjectStore) -> None:
    assert objects.supports_conditional_put()
    etag = objects.put("doc.json", b"1", if_absent=True)
    with pytest.raises(ConditionFailed):
        objects.put("doc.json", b"2", if_absent=True)
    new = objects.put("doc.json", b"2", if_match=etag)
    with pytest.raises(ConditionFailed):
        objects.put("doc.json", b"3", if_match=etag)  # stale etag
    with pytest.raises(ConditionFailed):
        objects.put("missing.json", b"3", if_match=new)
    assert objects.get("doc.json") == b"2"


def test_concurrent_if_absent_has_one_winner(s3_settings: S3Settings) -> None:
    wins: list[int] = []
    barrier = threading.Barrier(6)

    def race(i: int) -> None:
        store = ObjectStore(s3_settings)
        barrier.wait()
        try:
            store.put("race.json", str(i).encode(), if_absent=True)
            wins.append(i)
        except ConditionFailed:
            pass

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert ObjectStore(s3_settings).get("race.json") == str(wins[0]).encode()


def test_wrong_credentials_and_dead_server(s3: LocalS3Server, s3_settings: S3Settings) -> None:
    wrong = ObjectStore(s3_settings.model_copy(update={"secret_key": "wrong"}))
    with pytest.raises(Unavailable, match="SignatureDoesNotMatch"):
        wrong.get("x")
    dead = ObjectStore(S3Settings(endpoint="127.0.0.1:1", bucket="b-dead"))
    with pytest.raises(Unavailable, match=r"cannot reach the S3 server at http://127.0.0.1:1"):
        dead.get("x")


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOPACK_S3_ENDPOINT", "https://minio.example:9000")
    monkeypatch.setenv("OCTOPACK_S3_BUCKET", "data")
    settings = S3Settings()
    assert settings.host == "minio.example:9000" and settings.use_tls and settings.bucket == "data"
    assert settings.url == "https://minio.example:9000"
    assert "secret_key" not in repr(settings)


def test_local_server_keeps_data_across_restarts(tmp_path) -> None:
    first = LocalS3Server(tmp_path / "s3", secret_key="k" * 16)
    with first:
        store = ObjectStore(first.settings("keep"))
        store.ensure_bucket()
        store.put("k", b"v")
        pid = first.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with LocalS3Server(tmp_path / "s3", secret_key="k" * 16) as second:
        assert ObjectStore(second.settings("keep")).get("k") == b"v"


def test_missing_bucket_and_bad_bucket_name(s3: LocalS3Server) -> None:
    missing = ObjectStore(s3.settings(bucket="no-such-bucket-here"))
    with pytest.raises(NotFound, match="bucket 'no-such-bucket-here' does not exist"):
        missing.list_keys("x/")
    with pytest.raises(ValueError, match="not a valid S3 bucket name"):
        s3.settings(bucket="B")


def test_local_server_dies_with_the_process_that_started_it(tmp_path) -> None:
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\n"
        "from octopack.common.s3server import LocalS3Server\n"
        f"server = LocalS3Server({str(tmp_path / 's3')!r}).start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        weed = int(parent.stdout.readline())
        os.kill(weed, 0)  # running
    finally:
        parent.kill()  # SIGKILL: no chance to call stop()
        parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(weed):
            # It had no chance to remove its /tmp sockets: do it by the ports it recorded.
            options_file = tmp_path / "s3" / "data" / "mini.options"
            options = options_file.read_text() if options_file.exists() else ""
            for port in re.findall(r"port(?:\.grpc)?=(\d+)", options):
                for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                    sock.unlink(missing_ok=True)
            return
        time.sleep(0.1)
    os.kill(weed, signal.SIGKILL)
    pytest.fail("weed outlived the process that started it")


def _alive(pid: int) -> bool:
    """Running and not a zombie (a killed orphan waits to be reaped by whatever init there is)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_many_buckets_each_take_writes(tmp_path) -> None:
    """Every bucket is a SeaweedFS collection with its own volumes: the server must not run out of them
    after a few dozen (a test run makes one bucket per test)."""
    with LocalS3Server(tmp_path / "s3") as server:
        for i in range(60):
            store = ObjectStore(server.settings(bucket=f"many-{i}"))
            store.ensure_bucket()
            store.put("k", b"v", if_absent=True)
            assert store.get("k") == b"v"
