#!/usr/bin/env bash
# The README's test command, with the checks CI adds around it. Run from anywhere.
# Installs what it needs: rustfmt and clippy; as root, Debian's lxcfs and fuse3 for the
# differential test (real-kernel tests skip loudly when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n== %s\n' "$*"; }
timed() {
  local name=$1; shift
  local t0=$SECONDS
  "$@"
  printf '== %s: %ss\n' "$name" $((SECONDS - t0))
}

for comp in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
    rustup component add "$comp"
  fi
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v lxcfs >/dev/null; then
  stage "installing lxcfs and fuse3 (reference for the differential test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    lxcfs fuse3 >/dev/null
fi

stage "format"
timed fmt cargo fmt --all --check
stage "lint"
timed clippy cargo clippy --all-targets --locked -- -D warnings
stage "boundaries"
# Only source::host touches the filesystem, only snapshot::store and vfs::handle use
# arc-swap, only the FUSE adapter (src/fs.rs) uses fuser.
bad=0
if grep -rn 'std::fs' src --include=*.rs | grep -v -e '^src/source/host.rs' -e '^src/main.rs' -e '^src/daemon.rs' -e '^src/fs.rs' -e '//'; then bad=1; fi
if grep -rln 'arc_swap' src | grep -v -e '^src/snapshot/store.rs' -e '^src/vfs/handle.rs'; then bad=1; fi
if grep -rnE 'use fuser|fuser::' src | grep -v '^src/fs.rs'; then bad=1; fi
if grep -rn 'unsafe' src --include=*.rs | grep -v 'unsafe_code'; then bad=1; fi
[ "$bad" = 0 ] || { echo "module boundary violated (see lines above)"; exit 1; }
echo "boundaries ok"
stage "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
t0=$SECONDS
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
printf '== test: %ss\n' $((SECONDS - t0))
# One closing line over every test binary (doc-test binaries print "0 passed" last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
