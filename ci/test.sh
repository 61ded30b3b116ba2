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
stage "tests"
# The module rules (ARCHITECTURE.md) are a test among the others: tests/architecture.rs.
. ci/lib.sh
log=$(mktemp)
export VPROC_SKIP_LOG
VPROC_SKIP_LOG=$(mktemp)
trap 'rm -f "$log" "$VPROC_SKIP_LOG"' EXIT
t0=$SECONDS
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
printf '== test: %ss\n' $((SECONDS - t0))
if [ -s "$VPROC_SKIP_LOG" ]; then
  echo "skipped (reported, not counted as passed):"
  sort -u "$VPROC_SKIP_LOG" | sed 's/^/  /'
fi
read -r p f s < <(test_counts "$log" "$VPROC_SKIP_LOG")
summary_line "$p" "$f" "$s"
exit "$status"
