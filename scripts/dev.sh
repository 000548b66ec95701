#!/usr/bin/env bash
# OmenDB's one developer script: set-up, run, build the web targets, test.
#
#   scripts/dev.sh run [server args…]   set up, build the console, start the server (5433, 8080)
#   scripts/dev.sh test                 set up, then every test: native, wasm build, browser
#   scripts/dev.sh setup                only the idempotent set-up
#   scripts/dev.sh web                  only build the console and the wasm package
#
# Set-up installs what a fresh Debian machine with only rustup's stable toolchain lacks, and does
# nothing slow when everything is already there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# One persistent target directory outside the clone, so warm runs (and CI) build incrementally.
CACHE_DIR=${OMENDB_CACHE_DIR:-$HOME/.cache/omendb}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
WASM_TARGET_DIR=$CACHE_DIR/target-wasm
CONSOLE_OUT=$ROOT/web-console/dist
PKG_OUT=$ROOT/wasm-pkg/pkg

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Set-up

APT_PACKAGES=(
  libclang-dev clang             # RocksDB's bindgen step
  chromium chromium-driver       # browser tests
  postgresql-client              # psql and pgbench as real clients
  postgresql                     # the server omendb-bench's `server` suite compares against
  openssl                        # the TLS test's self-signed certificate
  python3 python3-venv           # psycopg 3, in a virtualenv under the cache directory
  libpostgresql-jdbc-java default-jdk-headless  # pgjdbc and javac for its scenario
  fonts-dejavu-core              # the text of omendb-bench's charts
)
PSYCOPG_VERSION=3.3.9
SQLALCHEMY_VERSION=2.0.36
WASM_APT_PACKAGES=(rustc-web cargo-web rust-web-src)  # when rustup has no wasm32 target

have_wasm_target() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing apt packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

install_wasm_bindgen() {
  local want have
  want=$(locked_wasm_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  [ "$have" = "$want" ] && return 0
  log "installing wasm-bindgen-cli $want (was: ${have:-none})"
  # Not --locked: one of its locked dependencies is not in the registry mirror here.
  cargo install wasm-bindgen-cli --version "$want" --force
}

install_node_modules() {
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    log "installing browser-test node modules"
    (cd tests/browser && npm ci --no-audit --no-fund --silent)
  fi
  if [ ! -d tests/drivers/node/node_modules/pg ]; then
    log "installing node-postgres for the driver tests"
    (cd tests/drivers/node && npm ci --no-audit --no-fund --silent)
  fi
}

# psycopg and SQLAlchemy for the driver tests, in a virtualenv of its own (server/tests/drivers.rs looks for
# it in the cache directory).
install_psycopg() {
  local venv="$CACHE_DIR/venv"
  if "$venv/bin/python" -c "import psycopg, sqlalchemy, sys; sys.exit(psycopg.__version__ != '$PSYCOPG_VERSION' or sqlalchemy.__version__ != '$SQLALCHEMY_VERSION')" 2>/dev/null; then
    return 0
  fi
  log "installing psycopg $PSYCOPG_VERSION and SQLAlchemy $SQLALCHEMY_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "psycopg[binary]==$PSYCOPG_VERSION" "sqlalchemy==$SQLALCHEMY_VERSION"
}

setup() {
  local pkgs=("${APT_PACKAGES[@]}")
  have_wasm_target || pkgs+=("${WASM_APT_PACKAGES[@]}")
  apt_install "${pkgs[@]}"
  export PATH="$HOME/.cargo/bin:$PATH"
  install_wasm_bindgen
  install_node_modules
  install_psycopg
}

# ---------------------------------------------------------------------------------------------
# WebAssembly builds

# cargo for wasm32: rustup's target when it exists, else Debian's rustc-web building std itself.
wasm_cargo() {
  if have_wasm_target; then
    cargo "$@" --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR"
  else
    local lld
    lld="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld" \
      /usr/bin/cargo "$@" --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR" \
      -Zbuild-std=std,panic_abort
  fi
}

build_web() {
  log "building the wasm package and the console (wasm32)"
  # No debug info in the shipped .wasm (the native release profile keeps line tables).
  CARGO_PROFILE_RELEASE_DEBUG=false wasm_cargo build --release -p omendb-wasm -p omendb-console
  local out=$WASM_TARGET_DIR/wasm32-unknown-unknown/release

  rm -rf "$CONSOLE_OUT" && mkdir -p "$CONSOLE_OUT"
  wasm-bindgen --target web --no-typescript --out-dir "$CONSOLE_OUT" "$out/omendb-console.wasm"
  cp web-console/static/* "$CONSOLE_OUT/"

  rm -rf "$PKG_OUT" && mkdir -p "$PKG_OUT/web" "$PKG_OUT/node"
  wasm-bindgen --target web --out-dir "$PKG_OUT/web" "$out/omendb_wasm.wasm"
  wasm-bindgen --target nodejs --out-dir "$PKG_OUT/node" "$out/omendb_wasm.wasm"
  # wasm-bindgen's nodejs output is CommonJS inside an ES-module package.
  echo '{ "type": "commonjs" }' > "$PKG_OUT/node/package.json"
  cp wasm-pkg/package.json wasm-pkg/README.md "$PKG_OUT/"
  log "console: $CONSOLE_OUT; package: $PKG_OUT ($(du -h "$PKG_OUT/web/omendb_wasm_bg.wasm" | cut -f1) wasm)"
}

# ---------------------------------------------------------------------------------------------
# Commands

run() {
  setup
  build_web
  # The same selection (the default members, every target) as `test`: Cargo unifies the
  # features of build-time dependencies per invocation, and a different set would rebuild RocksDB.
  cargo build --release --all-targets
  log "starting omendb-server (pgwire 127.0.0.1:5433, console http://localhost:8080)"
  # Transparent huge pages for glibc's malloc, which only RocksDB's C++ uses now (the server's
  # own allocator, mimalloc, maps huge-page arenas itself). Ignored by older glibc.
  export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
  exec "$CARGO_TARGET_DIR/release/omendb-server" --console-dir "$CONSOLE_OUT" "$@"
}

test_all() {
  setup
  # Property tests draw from a fixed seed here, so a test run is repeatable; set
  # PROPTEST_RNG_SEED to explore others (failures are kept in proptest-regressions/).
  export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261125}"
  log "format and lints"
  cargo fmt --all -- --check
  # Native crates (the workspace's default members) and the wasm crates checked natively, in
  # separate invocations so that RocksDB's build inputs never change (see `run`).
  cargo clippy --release --all-targets -- -D warnings
  cargo clippy --release -p omendb-wasm -p omendb-console --all-targets -- -D warnings
  log "native tests"
  cargo test --release
  # The wasm crates' own unit tests (result export, highlighting, history, the visualiser's
  # drawing, value conversion) run natively.
  cargo test --release -p omendb-wasm -p omendb-console
  log "benchmark harness smoke run"
  cargo bench --bench engine_table -- --quick
  build_web
  log "wasm package tests (Node)"
  node --test wasm-pkg/tests/
  cargo bench --bench wasm_ratio -- --quick
  log "browser tests (headless Chromium; screenshots in tests/browser/artifacts/)"
  OMENDB_SERVER_BIN="$CARGO_TARGET_DIR/release/omendb-server" node --test tests/browser/
}

case "${1:-}" in
  setup) setup ;;
  web) setup; build_web ;;
  run) shift; run "$@" ;;
  test) test_all ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
