#!/usr/bin/env bash
# Install the six HumanEvalPack toolchains the executor runs, on Debian 12, as root (idempotent).
#
# Everything the executor needs besides Debian packages lives under one root, $OCTOPACK_TOOLCHAINS
# (default /opt/octopack), readable by the unprivileged uids that run programs:
#   node/node_modules/js-md5        JavaScript: `require('js-md5')` via NODE_PATH
#   rust/bin/{rustc,cargo}          a rustc the sandbox uids can execute
#   rust/cargo-home/config.toml     crates-io replaced by Debian's /usr/share/cargo/registry, offline
#   rust/deps/                      rand (0.4 API over rand 0.8), regex, md5 built once (dev profile)
#   rust/externs.json               the rlibs a program links against (`rustc --extern ...`)
#   go/cache                        a warm Go build cache (std + testify, CGO off), read-only to programs
#   cpp/prelude.h(.gch)             the reference C++ headers, precompiled for g++ -std=c++11
#   java/JavacServer.class          a warm javac per executor slot (the JDK's compiler, kept loaded)
# A second run only checks and exits in a few seconds.
# Usage: install_toolchains.sh [LANGUAGE...]   (python js java go cpp rust; default all six)
set -euo pipefail
ROOT=${OCTOPACK_TOOLCHAINS:-/opt/octopack}
HERE=$(cd "$(dirname "$0")" && pwd)
COMPAT=$HERE/../services/executor/toolchains/rand_compat.rs
JAVAC_SERVER=$HERE/../services/executor/toolchains/JavacServer.java
export DEBIAN_FRONTEND=noninteractive

step() { printf '\033[1m--> %s\033[0m\n' "$*"; }
LANGS=" ${*:-python js java go cpp rust} "
for lang in $LANGS; do
  case "$lang" in
    python | js | java | go | cpp | rust) ;;
    *) echo "unknown language: $lang (use python js java go cpp rust)" >&2; exit 2 ;;
  esac
done
has() { [[ "$LANGS" == *" $1 "* ]]; }
if [ "$(id -u)" != 0 ]; then
  echo "install_toolchains.sh must run as root (apt-get, /opt)" >&2
  exit 1
fi

# ---- Debian packages ---------------------------------------------------------------------------
need=()
# Installed, or a virtual package an installed one provides (librust-rand+default-dev).
PROVIDED=$(dpkg-query -W -f='${Provides}\n' 2>/dev/null | tr ',' '\n' | sed 's/ (.*//; s/^ *//')
have_pkg() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] || grep -qxF "$1" <<<"$PROVIDED"
}
want() { have_pkg "$1" || need+=("$1"); }
# bubblewrap builds the sandbox's namespaces; util-linux's setpriv drops root to the sandbox uid;
# python3 runs the sandbox's supervisor and this script's helpers.
command -v bwrap >/dev/null || want bubblewrap
command -v setpriv >/dev/null || want util-linux
want python3
# Python: Debian's interpreter with numpy (the reference prelude imports numpy).
if has python; then want python3-numpy; fi
# C++: g++ 12, OpenSSL (-lcrypto -lssl), Boost headers (boost/any.hpp).
if has cpp; then
  command -v g++ >/dev/null || want g++
  want libssl-dev
  want libboost-dev
fi
# Java 17, node (+ npm for js-md5): only when the image lacks them.
if has java; then command -v javac >/dev/null || want openjdk-17-jdk-headless; fi
if has js; then
  command -v node >/dev/null || want nodejs
  command -v npm >/dev/null || want npm
fi
# Go 1.19 from Debian (same archive as testify; GOPATH mode, no module proxy needed).
if has go; then
  want golang-go
  want golang-github-stretchr-testify-dev
fi
# Rust crates as Debian sources for a directory registry; rustc/cargo only if missing.
if has rust; then
  for crate in rand regex md5; do
    want "librust-$crate-dev"
    want "librust-$crate+default-dev"
  done
  command -v rustc >/dev/null || [ -x "$ROOT/rust/bin/rustc" ] || want rustc
  command -v cargo >/dev/null || [ -x "$ROOT/rust/bin/cargo" ] || want cargo
fi

if [ ${#need[@]} -gt 0 ]; then
  step "apt-get install ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$ROOT"
chmod 755 "$ROOT"

# ---- JavaScript: js-md5 --------------------------------------------------------------------------
if has js && [ ! -f "$ROOT/node/node_modules/js-md5/package.json" ]; then
  step "npm install js-md5 into $ROOT/node"
  mkdir -p "$ROOT/node"
  npm install --silent --no-audit --no-fund --prefix "$ROOT/node" js-md5 >/dev/null
fi

# ---- Rust: a toolchain the sandbox uids can execute ------------------------------------------------
if has rust; then
mkdir -p "$ROOT/rust/bin"
if [ ! -x "$ROOT/rust/bin/rustc" ]; then
  sysroot=$(rustc --print sysroot)
  if setpriv --reuid 65534 --regid 65534 --clear-groups "$sysroot/bin/rustc" --version >/dev/null 2>&1; then
    tc=$sysroot
  else
    # rustup keeps the toolchain under /root (mode 700): link it (same filesystem) or copy it out.
    step "exposing $sysroot as $ROOT/rust/toolchain"
    rm -rf "$ROOT/rust/toolchain"
    cp -al "$sysroot" "$ROOT/rust/toolchain" 2>/dev/null || cp -a "$sysroot" "$ROOT/rust/toolchain"
    tc=$ROOT/rust/toolchain
  fi
  ln -sfn "$tc/bin/rustc" "$ROOT/rust/bin/rustc"
  ln -sfn "$tc/bin/cargo" "$ROOT/rust/bin/cargo"
fi

# Offline cargo: crates-io is Debian's directory registry.
mkdir -p "$ROOT/rust/cargo-home"
cat >"$ROOT/rust/cargo-home/config.toml" <<'EOF'
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "/usr/share/cargo/registry"

[net]
offline = true
EOF

# rand 0.4's API (what the reference's Cargo.toml pins: `gen_range(low, high)`) over Debian's rand 0.8.
if [ ! -f "$ROOT/rust/externs.json" ] || ! cmp -s "$COMPAT" "$ROOT/rust/rand/src/lib.rs"; then
  step "prebuilding rand/regex/md5 (dev profile) in $ROOT/rust/deps"
  mkdir -p "$ROOT/rust/rand/src" "$ROOT/rust/deps/src"
  cp "$COMPAT" "$ROOT/rust/rand/src/lib.rs"
  cat >"$ROOT/rust/rand/Cargo.toml" <<'EOF'
[package]
name = "rand"
version = "0.4.99"
edition = "2021"

[dependencies]
rand08 = { package = "rand", version = "0.8" }
EOF
  cat >"$ROOT/rust/deps/Cargo.toml" <<'EOF'
[package]
name = "octopack_rust_deps"
version = "0.1.0"
edition = "2021"

[dependencies]
rand = { path = "../rand" }
regex = "1"
md5 = "0.7"
EOF
  echo "" >"$ROOT/rust/deps/src/lib.rs"
  (cd "$ROOT/rust/deps" && CARGO_HOME="$ROOT/rust/cargo-home" PATH="$ROOT/rust/bin:$PATH" \
    "$ROOT/rust/bin/cargo" build --offline --message-format=json >"$ROOT/rust/build.json")
  python3 - "$ROOT/rust" <<'EOF'
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
externs = {}
for line in (root / "build.json").read_text().splitlines():
    msg = json.loads(line)
    if msg.get("reason") != "compiler-artifact":
        continue
    name = msg["target"]["name"]
    rlibs = [f for f in msg["filenames"] if f.endswith(".rlib")]
    pkg = msg["package_id"]
    # The path crate "rand" is the 0.4-API facade; the registry rand 0.8 is only its dependency.
    if name == "rand" and "rust/rand" not in pkg:
        continue
    if name in ("rand", "regex", "md5") and rlibs:
        externs[name] = rlibs[0]
externs_dir = str(root / "deps" / "target" / "debug" / "deps")
assert set(externs) == {"rand", "regex", "md5"}, externs
(root / "externs.json").write_text(json.dumps({"externs": externs, "deps_dir": externs_dir}, indent=1))
EOF
  chmod -R a+rX "$ROOT/rust"
fi
fi

# ---- C++: the reference prelude's headers, precompiled ----------------------------------------------
# The reference puts these #include lines on top of every C++ program; a program that starts with
# them compiles against this precompiled header (about 4x less compiler work, same meaning).
if has cpp && { [ ! -f "$ROOT/cpp/prelude.h.gch" ] || [ "$ROOT/cpp/prelude.h.gch" -ot "$(command -v g++)" ]; }; then
  step "precompiling the C++ prelude headers in $ROOT/cpp"
  mkdir -p "$ROOT/cpp"
  printf '#include<%s>\n' stdlib.h algorithm cmath math.h numeric stdio.h vector set map queue stack \
    list deque boost/any.hpp string climits cstring iostream sstream fstream >"$ROOT/cpp/prelude.h"
  g++ -std=c++11 -x c++-header -o "$ROOT/cpp/prelude.h.gch" "$ROOT/cpp/prelude.h"
  chmod -R a+rX "$ROOT/cpp"
fi

# ---- Java: the warm javac server ----------------------------------------------------------------------
if has java && { [ ! -f "$ROOT/java/JavacServer.class" ] || [ "$ROOT/java/JavacServer.class" -ot "$JAVAC_SERVER" ]; }; then
  step "compiling the warm javac server into $ROOT/java"
  mkdir -p "$ROOT/java"
  javac -nowarn -d "$ROOT/java" "$JAVAC_SERVER"
  chmod -R a+rX "$ROOT/java"
fi

# ---- Go: a warm build cache ------------------------------------------------------------------------
# Programs get the cache read-only (Go then only misses its writes): warm every package they may use.
GO_WARM=2
if has go && [ "$(cat "$ROOT/go/cache.ok" 2>/dev/null)" != "$GO_WARM" ]; then
  step "warming the Go build cache in $ROOT/go/cache"
  mkdir -p "$ROOT/go/cache" "$ROOT/go/warm"
  cat >"$ROOT/go/warm/main_test.go" <<'EOF'
package main

import (
    "bufio"
    "bytes"
    "container/heap"
    "container/list"
    "crypto/md5"
    "errors"
    "fmt"
    "math"
    "math/big"
    "math/bits"
    "math/rand"
    "os"
    "reflect"
    "regexp"
    "sort"
    "strconv"
    "strings"
    "testing"
    "time"
    "unicode"
    "unicode/utf8"

    "github.com/stretchr/testify/assert"
)

var _ = heap.Init
var _ = list.New
var _ = bufio.NewReader
var _ = errors.New
var _ = big.NewInt
var _ = bits.Len
var _ = os.Getpid
var _ = reflect.TypeOf
var _ = unicode.IsUpper
var _ = utf8.RuneLen

func TestWarm(t *testing.T) {
    _ = bytes.NewBuffer(nil)
    _ = md5.Sum(nil)
    _ = fmt.Sprint(math.Pi, rand.Int(), strconv.Itoa(1), strings.ToUpper("a"), time.Now())
    _ = regexp.MustCompile("a")
    sort.Ints([]int{2, 1})
    assert.New(t).Equal(1, 1)
}
EOF
  (cd "$ROOT/go/warm" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$ROOT/go/cache" CGO_ENABLED=0 \
    GOFLAGS= go test -c -o /dev/null . >/dev/null)
  chmod -R a+rX "$ROOT/go"
  echo "$GO_WARM" >"$ROOT/go/cache.ok"
fi
step "toolchains ready under $ROOT:$LANGS"
