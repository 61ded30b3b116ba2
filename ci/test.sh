#!/usr/bin/env bash
# The README's test command, with the checks CI adds around it. Run from anywhere.
# Installs what it needs: rustfmt and clippy; as root, the Debian packages the tests use
# (ci/deps.sh: LXCFS for the differential tests, the programs run in containers,
# systemd-analyze, kubernetes-validate...). Tests skip loudly what they cannot find.
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

stage "dependencies"
while IFS= read -r line; do
  case $line in VPROC_K8S_VALIDATE=*) export "${line?}" ;; esac
done < <(bash ci/deps.sh)

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
