#!/usr/bin/env bash
# Hardened build check (the Rust counterpart of LXCFS 4.0's compiler hardening): builds
# the release binary (overflow checks on, see Cargo.toml) and checks the ELF with
# readelf (binutils): position independent, full RELRO (GNU_RELRO + BIND_NOW), and a
# non-executable stack. Stack canaries and _FORTIFY_SOURCE are C mechanisms with no
# Rust counterpart (bounds checks, and `unsafe` denied everywhere but the small
# src/sys.rs, do that job), so they are not checked. Prints one line per property and
# fails if any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v readelf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils >/dev/null; }
t0=$SECONDS
cargo build --release --locked --bin vproc
bin=target/release/vproc
ok=0 passed=0 failed=0
check() {
  if eval "$2"; then echo "hardening: $1: yes"; passed=$((passed + 1))
  else echo "hardening: $1: NO"; ok=1; failed=$((failed + 1)); fi
}
check "PIE (ELF type DYN)" "readelf -hW $bin | grep -q 'Type:[[:space:]]*DYN'"
check "RELRO segment" "readelf -lW $bin | grep -q GNU_RELRO"
check "BIND_NOW (full RELRO)" "readelf -dW $bin | grep -Eq 'BIND_NOW|FLAGS_1.*NOW'"
check "non-executable stack" "readelf -lW $bin | grep GNU_STACK | grep -qv RWE"
check "overflow checks in release" "grep -A3 '^\[profile.release\]' Cargo.toml | grep -q 'overflow-checks = true'"
check "unsafe denied outside src/sys.rs" "grep -q '^unsafe_code = \"deny\"' Cargo.toml && grep -q 'deny(unsafe_code)' src/lib.rs && [ \"\$(grep -rl 'unsafe {' src)\" = src/sys.rs ]"
echo "== hardening: $((SECONDS - t0))s"
echo "$passed passed, $failed failed, 0 skipped"
exit $ok
