#!/usr/bin/env bash
# The pure cgroup v2 suite: build the real-kernel test binaries on the host, boot ONE
# throw-away VM whose kernel has only cgroup2 (tests/vm/run-v2vm), run them there as
# root — vproc mounted in the VM, LXCFS beside it — and print a summary with the wall
# time and a closing `N passed, N failed` line. Exits non-zero if anything failed.
#
# usage: bash ci/vm.sh          (root; installs qemu and fetches a Debian kernel itself)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
t0=$SECONDS
mkdir -p target/vm-logs
log=target/vm-logs/v2.log

# The suites that need a real kernel: the daemon and its lifecycle, reader identity,
# crash and upgrade survival, inspect's capture and replay, real programs, LXCFS side by
# side, and the v2-only checks (tests/v2.rs skips on any other host).
suites=(mount readers survival inspect programs lxcfs_diff v2)
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
mapfile -t bins < <(cargo test --locked --no-run --message-format=json "${args[@]}" 2>/dev/null |
  grep -o '"executable":"[^"]*/deps/[^"]*"' | cut -d'"' -f4)
if ((${#bins[@]} != ${#suites[@]})); then
  echo "vm: building the test binaries failed:" >&2
  cargo test --locked --no-run "${args[@]}" >&2
  exit 1
fi
command -v lxcfs >/dev/null || echo "vm: note: no lxcfs on this machine; the comparison will skip" >&2
echo "== vm: build: $((SECONDS - t0))s"

t1=$SECONDS
# One VM for the whole suite; tests run one at a time (they share global state such as
# swap and loop devices).
rm -f target/vm-logs/skipped
cmd="export VPROC_IN_VM=1 RUST_BACKTRACE=1 VPROC_SKIP_LOG=$PWD/target/vm-logs/skipped; rc=0;"
for b in "${bins[@]}"; do
  cmd+=" echo \"== $(basename "$b")\"; $b --test-threads=1 --show-output || rc=1;"
done
cmd+=' exit $rc'
VPROC_VM_TIMEOUT=${VPROC_VM_TIMEOUT:-1500} tests/vm/run-v2vm "$cmd" >"$log" 2>&1
status=$?
cat "$log"
echo "== vm: suite: $((SECONDS - t1))s (VM boot included)"
. ci/lib.sh
read -r p f skipped < <(test_counts "$log" target/vm-logs/skipped)
echo "vm: ${skipped} skipped (see the *** SKIPPED lines above)"
if [ "$status" != 0 ] && [ "$f" = 0 ]; then
  echo "vm: the VM run failed (exit $status) before the suite could report" >&2
  f=1
fi
echo "== vm: total: $((SECONDS - t0))s"
summary_line "$p" "$f" "$skipped"
[ "$status" = 0 ] && [ "$f" = 0 ]
