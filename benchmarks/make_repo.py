"""Generate a synthetic Git repository quickly with ``git fast-import``.

Usage: python benchmarks/make_repo.py PATH [--commits 5000] [--files 400] [--seed 0]

The history mixes what real repositories have: single-file edits (the CommitPack
samples), multi-file edits, adds, deletes, renames, binary files, a few files in
no known language, non-UTF-8 text, an oversized file, merge commits from side
branches, and commit messages both good and boring. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

EXTENSIONS = [".py"] * 6 + [".js"] * 4 + [".java", ".go", ".rs", ".c", ".cpp", ".ts", ".rb", ".md", ".txt", ".xyz"]
WORDS = ["value", "index", "count", "result", "buffer", "config", "parser", "token", "node", "item", "data", "error", "state", "path", "name", "size", "offset", "cache", "query", "handler", "request", "response", "client", "server", "stream", "batch", "record", "field"]
MESSAGES = [
    "Fix off-by-one error in {name} parser",
    "Add support for empty input to {name}",
    "Refactor {name} to use a single loop",
    "Remove unused import from module",
    "Improve error message when the config is missing",
    "Handle unicode names in {name}",
    "Speed up lookups with a dictionary",
    "Use pathlib instead of os.path for {name}",
    "Update {path}",
    "wip",
    "fix",
    "Merge branch 'feature' into main",
    "Bump version to 1.2.3",
    "update readme",
    "Rename variable for clarity\n\nThe old name hid what the value holds.\n",
    "Add tests for the tokenizer\n\nCovers empty strings and long inputs.",
]


def _line(rng: random.Random) -> str:
    indent = "    " * rng.randint(0, 3)
    return indent + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12)))


def _text(rng: random.Random) -> bytes:
    n = int(rng.lognormvariate(4.2, 0.9)) + 3  # median ~70 lines, a long tail of large files
    return ("\n".join(_line(rng) for _ in range(min(n, 3000))) + "\n").encode()


def _edit(rng: random.Random, data: bytes) -> bytes:
    lines = data.decode("utf-8", errors="replace").split("\n")
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        action = rng.random()
        if action < 0.5:
            lines[i] = _line(rng)
        elif action < 0.8:
            lines.insert(i, _line(rng))
        elif len(lines) > 3:
            del lines[i]
    return "\n".join(lines).encode()


class Stream:
    """Writes a fast-import stream."""

    def __init__(self, out) -> None:
        self.out = out
        self.mark = 0

    def blob(self, data: bytes) -> int:
        self.mark += 1
        self.out.write(b"blob\nmark :%d\ndata %d\n" % (self.mark, len(data)) + data + b"\n")
        return self.mark

    def commit(self, ref: str, when: int, message: str, parents: list[int], ops: list[bytes]) -> int:
        self.mark += 1
        msg = message.encode()
        head = b"commit %s\nmark :%d\nauthor Dev <dev@example.com> %d +0000\ncommitter Dev <dev@example.com> %d +0000\n" % (
            ref.encode(), self.mark, when, when)
        body = b"data %d\n" % len(msg) + msg + b"\n"
        links = b""
        if parents:
            links += b"from :%d\n" % parents[0]
            for p in parents[1:]:
                links += b"merge :%d\n" % p
        self.out.write(head + body + links + b"".join(ops) + b"\n")
        return self.mark


def generate(path: Path, commits: int = 5000, files: int = 400, seed: int = 0) -> Path:
    """Create a repository at ``path`` (must not exist) with ``commits`` commits on ``main``."""
    rng = random.Random(seed)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    s = Stream(proc.stdin)
    tree: dict[str, bytes] = {}
    when = 1_600_000_000
    ops = [b"M 100644 :%d LICENSE\n" % s.blob(b"MIT License\n\nPermission is hereby granted, free of charge, "
                                              b"to any person obtaining a copy of this software. The above "
                                              b"copyright notice and this permission notice shall be included.\n")]
    for i in range(files):
        name = f"src/pkg{i % 17}/mod{i}{rng.choice(EXTENSIONS)}"
        tree[name] = _text(rng)
        ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[name]), name.encode()))
    tree["assets/logo.png"] = bytes(rng.randrange(256) for _ in range(3000)) + b"\0"
    ops.append(b"M 100644 :%d assets/logo.png\n" % s.blob(tree["assets/logo.png"]))
    head = s.commit("refs/heads/main", when, "Initial commit", [], ops)
    made = 1
    while made < commits:
        when += rng.randint(60, 20000)
        names = sorted(tree)
        roll = rng.random()
        name = rng.choice([n for n in names if not n.endswith(".png")] if roll >= 0.55 else names)
        msg = rng.choice(MESSAGES).format(name=Path(name).stem, path=name)
        ops = []
        if roll < 0.55:  # single-file edit
            tree[name] = _edit(rng, tree[name]) if not name.endswith(".png") else tree[name] + b"\1\0"
            ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[name]), name.encode()))
        elif roll < 0.75:  # multi-file edit
            for other in rng.sample(names, rng.randint(2, 5)):
                if not other.endswith(".png"):
                    tree[other] = _edit(rng, tree[other])
                    ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[other]), other.encode()))
        elif roll < 0.83:  # add
            new = f"src/new/file{made}{rng.choice(EXTENSIONS)}"
            tree[new] = _text(rng)
            ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[new]), new.encode()))
        elif roll < 0.86 and len(tree) > 50:  # delete
            del tree[name]
            ops.append(b"D %s\n" % name.encode())
        elif roll < 0.89:  # rename
            new = f"src/moved/{made}_{Path(name).name}"
            tree[new] = tree.pop(name)
            ops.append(b"R %s %s\n" % (name.encode(), new.encode()))
        elif roll < 0.92:  # binary edit
            tree["assets/logo.png"] = tree["assets/logo.png"][:-1] + bytes([rng.randrange(256)]) + b"\0"
            ops.append(b"M 100644 :%d assets/logo.png\n" % s.blob(tree["assets/logo.png"]))
        elif roll < 0.93:  # non-UTF-8 text
            tree[name] = _edit(rng, tree[name]) + "\ncaf\xe9\n".encode("latin-1")
            ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[name]), name.encode()))
        elif roll < 0.935:  # oversized file
            tree[name] = _text(rng) * (1_100_000 // max(1, len(tree[name])) + 1)
            ops.append(b"M 100644 :%d %s\n" % (s.blob(tree[name]), name.encode()))
        elif roll < 0.97 and made + 2 < commits:  # a side branch commit and its merge
            tree[name] = _edit(rng, tree[name])
            mark = s.blob(tree[name])
            side = s.commit("refs/heads/side", when, f"Tweak {Path(name).stem} on a branch", [head],
                            [b"M 100644 :%d %s\n" % (mark, name.encode())])
            when += 60
            head = s.commit("refs/heads/main", when, "Merge branch 'side'", [head, side],
                            [b"M 100644 :%d %s\n" % (mark, name.encode())])
            made += 2
            continue
        else:  # an empty-change commit (message only)
            pass
        head = s.commit("refs/heads/main", when, msg, [head], ops)
        made += 1
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.path.exists():
        print(f"{args.path} exists; give a new path", file=sys.stderr)
        return 2
    generate(args.path, args.commits, args.files, args.seed)
    count = subprocess.run(["git", "rev-list", "--count", "main"], cwd=args.path, capture_output=True, text=True)
    print(f"{args.path}: {count.stdout.strip()} commits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
