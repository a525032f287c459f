"""Rows/s of the vectorised CommitPackFT filter against a plain per-row Python implementation of the same rules.

Usage: python benchmarks/filter.py [--rows 50000] [--tokenizer PATH] [--seed 0]

Both run every rule (1-16) of the paper profile with the same tokenizer; the
baseline is the original scripts transcribed row by row (tests/oracles/original.py).
The benchmark asserts they keep the same rows (same cleaned subjects) and drop the
same number per rule. Without --tokenizer a byte-level BPE tokenizer (8k
vocabulary) is trained on the generated contents first (not timed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from octopack.services.filter.config import FilterConfig  # noqa: E402

SUBJECTS = [
    "Add a check for empty input in the parser", "Fix crash when the config file is missing",
    "Refactor the request handler into smaller functions", "fix: Handle unicode names in paths",
    "[core] Remove the unused cache layer entirely [skip ci]", "Update README.md", "Bump lodash from 4.17.1 to 4.17.2",
    "Merge branch 'main' into feature", "Fix #123: wrong offset", "I fixed the tests for the parser module",
    "added some tests for the tokenizer", "Speed up the lookup of tokens by index", "v1.2.3",
    "Improve the error message [ci skip] for timeouts", "Wipe the temporary folder after each run",
    "Add wip support for streams in client", "Fix issue 42 with the stream handler", "Use www.example.com in docs",
    "Make the server close idle connections now", "Set version to 2.0.0 for the release",
    "Signed-off-by: someone in the subject line", "Fix the mod3 helper for negative inputs now",
]
FILES = [("src/mod{}.py", "Python"), ("lib/mod{}.js", "JavaScript"), ("pkg/mod{}.go", "Go"), ("src/mod{}.rs", "Rust"),
         ("src/Mod{}.java", "Java"), ("src/mod{}.pyw", "Python"), ("docs/mod{}.md", "Markdown"), ("Makefile", "Makefile")]
WORDS = ["value", "index", "count", "result", "buffer", "config", "parser", "token", "node", "item", "data", "error", "state", "path", "name", "size"]


def make_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        # Source files of realistic sizes: median about 60 lines (2 KB), a long tail up to rule 1's 50k characters.
        n_lines = min(1200, int(rng.lognormvariate(4.1, 1.0)) + 2)
        lines = ["    " * rng.randint(0, 3) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
                 for _ in range(n_lines)]
        old = "\n".join(lines) + "\n"
        roll = rng.random()
        new = old if roll < 0.03 else "" if roll < 0.05 else old.replace(lines[0], lines[0] + " changed", 1)
        path, lang = rng.choice(FILES)
        path = path.format(i % 50)
        subject = rng.choice(SUBJECTS)
        rows.append({
            "commit": hashlib.sha1(str(i).encode()).hexdigest(), "old_file": path, "new_file": path,
            "old_contents": old, "new_contents": new, "subject": subject, "message": subject + "\n\nDetails.",
            "lang": lang, "license": "mit", "repos": ["r"],
        })
    return rows


def train_tokenizer(rows: list[dict[str, Any]], path: Path) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((r["old_contents"] for r in rows[:2000]), trainer)
    tok.save(str(path))
    return str(path)


# -- the baseline: the original scripts' rules, one row at a time, in plain Python -----------------------------------
def baseline(rows: list[dict[str, Any]], tokenizer: Any, eos: str) -> tuple[list[dict], list[int]]:
    """``tests/oracles/original.py``: commitpackft_filters1.py and _filters2.py transcribed row by row."""
    from tests.oracles.original import original_filter

    def count(old: str, new: str) -> int:
        return len(tokenizer.encode(old + eos + new, add_special_tokens=False).ids)

    kept, dropped = original_filter(rows, count)
    return kept, [dropped[n] for n in range(1, 17)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--tokenizer", default="")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import pyarrow as pa
    from rich.console import Console
    from rich.table import Table

    from octopack.services.filter.pipeline import rebatch, run_local
    from octopack.services.filter.rules import build_rules
    from octopack.services.filter.stats import FilterStats
    from octopack.services.filter.tokens import token_counter

    rows = make_rows(args.rows, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = args.tokenizer or train_tokenizer(rows, Path(tmp) / "tokenizer.json")
        config = FilterConfig()
        counter = token_counter(tok_path)
        table = pa.Table.from_pylist(rows)
        rules = build_rules(config, tok_path)
        stats = FilterStats.for_rules(rules)
        t0 = time.perf_counter()
        fast = [r for t in run_local(rebatch(iter(table.to_batches(8192))), rules, stats) for r in t.to_pylist()]
        fast_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow, slow_dropped = baseline(rows, counter.tokenizer, counter.eos)
        slow_s = time.perf_counter() - t0
    assert fast == slow, "the vectorised filter and the per-row baseline disagree"
    assert [r.dropped for r in stats.rules] == slow_dropped, ([r.dropped for r in stats.rules], slow_dropped)
    console = Console()
    console.print(stats.render())
    out = Table(title=f"filter benchmark: {args.rows:,} rows, {len(fast):,} kept, {os.cpu_count()} cores")
    for col in ("implementation", "seconds", "rows/s", "speed-up"):
        out.add_column(col, justify="left" if col == "implementation" else "right")
    out.add_row("per-row Python, the original's rules (baseline)", f"{slow_s:.2f}", f"{args.rows / slow_s:,.0f}", "1.0x")
    out.add_row("octopack (Arrow + encode_batch)", f"{fast_s:.2f}", f"{args.rows / fast_s:,.0f}", f"{slow_s / fast_s:.1f}x")
    console.print(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"same output: yes ({len(fast):,} rows, per-rule drops equal); peak RSS of this process {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
