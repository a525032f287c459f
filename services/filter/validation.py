"""What the filter accepts: every FilterService request, bounded and checked once at the edge.

A tokenizer is a path on the server: only a ``tokenizer.json`` (or a folder holding one) may be
named, so a request cannot make the server open an arbitrary file (``/etc/passwd``) and report
what the parser made of it. Configurations are YAML mappings without aliases (a few kB of nested
aliases expand to billions of nodes), checked in full by the filter when the run is built.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from octopack.common.checks import ray_address, yaml_mapping
from octopack.common.profiles import PROFILES
from octopack.common.validation import Rule, Rules, choice
from octopack.datasets.names import check_name, parse_ref
from octopack.services.filter.settings import FilterSettings

P = "octopack.filter.v1."
MAX_CONFIG_CHARS = 64 * 1024
_RUN_ID = Rule(max_chars=128, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", hint="a run id from StartFilter")


def tokenizer_path(value: str) -> None:
    """A ``tokenizer.json`` file, or a folder that holds one (an HF model folder)."""
    path = Path(value).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    if path.name != "tokenizer.json":
        raise ValueError(f"{value!r} is neither a tokenizer.json file nor a folder holding one")


def rules(settings: FilterSettings) -> Rules:
    """The filter's rules; a request may name only the server's Ray cluster (or a loopback one)."""
    return Rules(fields={
        P + "FilterSpec.source": Rule(max_chars=200, check=parse_ref),
        P + "FilterSpec.out": Rule(max_chars=63, check=check_name),
        P + "FilterSpec.tokenizer": Rule(max_chars=4096, check=tokenizer_path),
        P + "FilterSpec.config_yaml": Rule(max_chars=MAX_CONFIG_CHARS, multiline=True, check=yaml_mapping),
        P + "FilterSpec.profile": choice(PROFILES, "data profile"),
        P + "FilterSpec.ray_address": Rule(max_chars=270, check=partial(ray_address, configured=settings.ray_address)),
        P + "GetFilterRequest.run_id": _RUN_ID,
        P + "WatchFilterRequest.run_id": _RUN_ID,
        P + "StartFilterRequest.run_id": _RUN_ID,
        P + "CancelFilterRequest.run_id": _RUN_ID,
    })
