"""A crawl job on the local stack from a repositories file, through the crawler service on Ray, checked against
the same crawl in one process.

Usage: python benchmarks/crawl_stack.py [--small 1000] [--commits 40] [--keep-stack]

Starts the local stack (``octopack up --only s3,ray,datasets,crawler,filter,controller``; set
OCTOPACK_STACK_DIR and the OCTOPACK_STACK_*_PORT variables to keep it apart from other stacks), prepares the
two real histories of ../shared/data/repos (bare clones of the bundles) and N generated small repositories,
uploads their list as a repositories file to the stack's bucket, submits a job whose crawl names that file
(no shared folder: the crawler's Ray tasks clone and write to S3), follows it, then crawls the same list
with ``octopack crawl --repos-file FILE --workers 1`` (one process, no Ray) and compares the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def octopack(*args: str, env: dict[str, str] | None = None, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "octopack.cli.main", *args]
    print("$ octopack " + " ".join(args), flush=True)
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"octopack {args[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000, help="generated repositories")
    parser.add_argument("--commits", type=int, default=40, help="commits of each generated repository")
    parser.add_argument("--work", type=Path, default=None, help="where the repositories go (default: a temp dir)")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args()

    from crawl_scale import prepare

    from octopack.common.objectstore import ObjectStore, S3Settings
    from octopack.datasets.store import DatasetStore
    from octopack.stack.stack import Stack

    work = args.work or Path(tempfile.mkdtemp(prefix="octopack-crawl-stack-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    repos = prepare(work, args.small, args.commits)
    listing = work / "repos.txt"
    listing.write_text("# psf/requests and pallets/click, then generated repositories\n" + "\n".join(repos) + "\n")
    print(f"{len(repos)} repositories prepared in {time.perf_counter() - t0:.0f} s; list: {listing}", flush=True)

    for attempt in range(1, 4):  # Ray's head can time out its own start-up on a very busy machine
        try:
            print(octopack("up", "--only", "s3,ray,datasets,crawler,filter,controller").stdout)
            break
        except SystemExit as exc:
            if attempt == 3:
                raise
            print(f"octopack up failed (attempt {attempt}), starting again: {str(exc)[-300:]}", flush=True)
            octopack("down")
    stack = Stack()
    s3env = stack.s3_env()
    s3 = S3Settings(endpoint=s3env["OCTOPACK_S3_ENDPOINT"], access_key=s3env["OCTOPACK_S3_ACCESS_KEY"],
                    secret_key=s3env["OCTOPACK_S3_SECRET_KEY"], bucket=s3env["OCTOPACK_S3_BUCKET"])
    try:
        key = f"lists/{listing.name}"
        ObjectStore(s3).put_file(key, listing)
        job_file = work / "crawl-job.yaml"
        job_file.write_text(json.dumps({"name": "crawl-from-file", "crawl": {"repositoriesFile": key}}))
        started = time.perf_counter()
        submitted = json.loads(octopack("jobs", "submit", str(job_file)).stdout)
        job_id = submitted["id"]
        print(f"job {job_id}: crawl of s3://{s3.bucket}/{key} ({len(repos)} repositories)", flush=True)
        octopack("jobs", "watch", job_id)
        job = json.loads(octopack("jobs", "get", job_id).stdout)
        seconds = time.perf_counter() - started
        stage = job["stages"][0]
        print(json.dumps({"state": job["state"], "seconds": round(seconds), "outputs": stage.get("outputs")}, indent=1))
        if job["state"] != "STATE_SUCCEEDED":
            raise SystemExit(f"the job ended {job['state']}: {stage.get('message')}")
        out = stage["outputs"]["datasets"][0]

        single = octopack("crawl", "--repos-file", str(listing), "--dataset", "single-process", "--workers", "1",
                          "--work-dir", str(work / "mirrors"), env=s3env)
        print(single.stderr[-1500:])
        store = DatasetStore(ObjectStore(s3))
        on_ray = store.read_table(out["name"], out["version"])
        one = store.read_table("single-process")
        same_order = on_ray.to_pylist() == one.to_pylist()
        print(f"job output {out['name']}@{out['version']}: {on_ray.num_rows:,} rows; one process: {one.num_rows:,} rows; "
              f"the same rows in the same order: {same_order}")
        crawler_runs = [o.key for o in store.objects.list("runs/crawler/") if o.key.endswith("/run.json")]
        print(f"crawler run records: {crawler_runs}")
        return 0 if same_order else 1
    finally:
        if not args.keep_stack:
            print(octopack("down").stdout)


if __name__ == "__main__":
    sys.exit(main())
