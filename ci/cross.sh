#!/usr/bin/env bash
# The test matrix: the workspace's `cargo test` natively on x86_64 and under qemu-user
# on aarch64, s390x and powerpc64le. Installs what is missing (Debian packages, rustup
# targets), runs every leg with --no-fail-fast, prints a table and one closing line
# `N passed, N failed`. Exits non-zero if any leg failed.
#
# usage: bash ci/cross.sh [x86_64|aarch64|s390x|powerpc64le ...]   (default: all four)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1   # cargo reads .cargo/config.toml from the working directory

arches=("$@"); ((${#arches[@]})) || arches=(x86_64 aarch64 s390x powerpc64le)
triple()  { echo "$1-unknown-linux-gnu"; }
debarch() { case $1 in aarch64) echo arm64;; s390x) echo s390x;; powerpc64le) echo ppc64el;; esac; }
qemu()    { case $1 in powerpc64le) echo qemu-ppc64le-static;; *) echo "qemu-$1-static";; esac; }
rustarch(){ case $1 in powerpc64le) echo powerpc64;; *) echo "$1";; esac; }

install() {
  local pkgs=() a
  for a in "${arches[@]}"; do
    [[ $a == x86_64 ]] && continue
    command -v "$(qemu "$a")" >/dev/null || pkgs+=(qemu-user-static)
    command -v "$a-linux-gnu-gcc" >/dev/null || pkgs+=("gcc-$a-linux-gnu")
    [[ -e /usr/$a-linux-gnu/lib/crt1.o || -e /usr/$a-linux-gnu/lib64/crt1.o ]] || pkgs+=("libc6-dev-$(debarch "$a")-cross")
  done
  if ((${#pkgs[@]})); then
    echo "matrix: installing ${pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends $(printf '%s\n' "${pkgs[@]}" | sort -u) >/dev/null || return 1
  fi
  local have; have=$(rustup target list --installed)
  for a in "${arches[@]}"; do
    grep -qx "$(triple "$a")" <<<"$have" || rustup target add "$(triple "$a")" || return 1
  done
}

t0=$SECONDS
install || { echo "matrix: installing the cross toolchains failed" >&2; exit 1; }
echo "== matrix install: $((SECONDS - t0))s"

mkdir -p target/matrix-logs
declare -A pass fail build run rc runs_on skipped
total_pass=0 total_fail=0 total_skip=0 status=0
. ci/lib.sh
for a in "${arches[@]}"; do
  log=target/matrix-logs/$a.log
  targs=(); env=(CI=true INSTA_UPDATE=no "VPROC_EXPECT_ARCH=$(rustarch "$a")")
  if [[ $a != x86_64 ]]; then
    targs=(--target "$(triple "$a")")
    # VPROC_RUNNER: tests that run the vproc binary itself (inspect, deploy) go through
    # the emulator, as cargo runs the test binaries.
    env+=(VPROC_EMULATED=1 "QEMU_LD_PREFIX=/usr/$a-linux-gnu" "VPROC_RUNNER=$(qemu "$a")")
  fi
  t=$SECONDS
  env "${env[@]}" cargo test --workspace --locked "${targs[@]}" --no-run >"$log" 2>&1
  build[$a]=$((SECONDS - t)); t=$SECONDS
  # --show-output: the architecture proof and the loud skip notices reach the log.
  skiplog=target/matrix-logs/$a.skipped; rm -f "$skiplog"
  env "${env[@]}" "VPROC_SKIP_LOG=$PWD/$skiplog" cargo test --workspace --locked "${targs[@]}" --no-fail-fast -- --show-output >>"$log" 2>&1
  rc[$a]=$?; run[$a]=$((SECONDS - t))
  read -r p f s < <(test_counts "$log" "$skiplog")
  pass[$a]=$p; fail[$a]=$f; skipped[$a]=$s
  runs_on[$a]=$(grep -m1 -o 'architecture [a-z0-9_]*, [a-z]* endian' "$log" | sed 's/architecture //' || true)
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
  if [[ ${rc[$a]} != 0 ]]; then
    status=1
    echo "---- $a failed; last lines of $log:"; tail -n 40 "$log"
  fi
done

printf '\n%-12s %8s %8s %8s %8s %8s  %-24s %s\n' arch passed failed skipped build_s test_s "runs on" result
for a in "${arches[@]}"; do
  printf '%-12s %8s %8s %8s %8s %8s  %-24s %s\n' "$a" "${pass[$a]}" "${fail[$a]}" "${skipped[$a]}" \
    "${build[$a]}" "${run[$a]}" "${runs_on[$a]:-?}" "$([[ ${rc[$a]} == 0 ]] && echo ok || echo FAILED)"
done
echo "skipped = real-kernel tests (FUSE mount, cgroups): they need root and /dev/fuse, and under"
echo "qemu-user they cannot run (FUSE messages are not byte-swapped for s390x; the daemon binary"
echo "is foreign). Each skip prints its reason in target/matrix-logs/<arch>.log."
echo "== matrix: $((SECONDS - t0))s"
summary_line "$total_pass" "$total_fail" "$total_skip"
exit "$status"
