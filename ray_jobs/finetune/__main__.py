"""RayJob entry point: ``python -m octopack.ray_jobs.finetune --config run.yaml [--no-ray] [--set k=v ...]``.

Run it again with the same configuration after a crash or a killed driver: it resumes
from the run's last complete checkpoint, and a finished run returns its result at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from octopack.common.logging import setup_logging


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m octopack.ray_jobs.finetune", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="YAML/JSON FinetuneConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field")
    parser.add_argument("--no-ray", action="store_true", help="run the plain loop in this process")
    args = parser.parse_args(argv)
    setup_logging()
    from octopack.ray_jobs.finetune.config import load_config

    config = load_config(args.config, _overrides(args.set))
    if args.no_ray:
        from octopack.ray_jobs.finetune.loop import train_loop

        result = train_loop(config.model_dump())
    else:
        from octopack.ray_jobs.finetune.trainer import run_with_ray

        result = run_with_ray(config)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
