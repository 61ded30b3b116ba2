#!/usr/bin/env bash
# Real container managers as tests (issue 14, item 1): this build of vproc, mounted on a
# temporary directory with --enable-cfs, under podman (runc), LXC (lxc-execute and
# lxc-start, with vproc's own mount hook) and systemd-nspawn, on a minimal Debian
# rootfs cached on the machine. Per manager: a 512 MiB / cpuset 0 container and a
# 256 MiB / 1-CPU-quota one, each checked against its cgroup as the host sees it, then
# short-lived containers back to back (recycled pid namespaces). Ends with a table and
# `N passed, N failed, N skipped`; exits non-zero if a check failed. Skips are loud, never passes.
#
# usage: bash ci/containers.sh    (root; CI=true, no stdin; installs what it needs)
# env:   BACK_TO_BACK=N (default 10)   VPROC_CI_CACHE=DIR (default /var/cache/vproc-ci)
#        MANAGERS="podman lxc nspawn" (default: all)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
T0=$SECONDS
# shellcheck source=ci/lib.sh
. ci/lib.sh

if [ "$(id -u)" != 0 ]; then
  echo "ci/containers.sh: needs root (cgroups, FUSE, containers)" >&2
  summary_line 0 1 0
  exit 1
fi

WORK=$(mktemp -d /tmp/vproc-ci-containers.XXXXXX)
chmod 755 "$WORK"
# shellcheck source=ci/containers/lib.sh
. "$REPO/ci/containers/lib.sh"
# shellcheck source=ci/containers/podman.sh
. "$REPO/ci/containers/podman.sh"
# shellcheck source=ci/containers/lxc.sh
. "$REPO/ci/containers/lxc.sh"
# shellcheck source=ci/containers/nspawn.sh
. "$REPO/ci/containers/nspawn.sh"

MNT=$WORK/mnt
ROOTFS=$WORK/rootfs
VPROC=$REPO/target/release/vproc

# The script's own output, for traps that fire while a redirection is active (e.g.
# while a container's output goes to a file).
exec {OUT}>&1 {ERR}>&2
# shellcheck disable=SC2317 # invoked by the EXIT trap
finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  exec 1>&"$OUT" 2>&"$ERR"
  run_cleanup
  stop_vproc
  umount_under "$WORK"
  if [ -z "${COUNTED:-}" ]; then
    # Stopped before the end (signal or error): still a table and the closing line.
    fail script aborted run "stopped before the end (exit $rc); everything was cleaned up"
    summary
    count_lines
    [ "$rc" = 0 ] && rc=1
  fi
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap finish EXIT
trap 'exec 1>&"$OUT" 2>&"$ERR"; warn "interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------------------------
log "== packages"
# command:package; shellcheck last and optional (its absence is a skip, not a failure).
need=()
for pair in podman:podman runc:runc lxc-execute:lxc systemd-nspawn:systemd-container \
  debootstrap:debootstrap top:procps zstd:zstd nsenter:util-linux; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if ((${#need[@]})) || ! command -v shellcheck >/dev/null; then
  log "installing: ${need[*]} shellcheck"
  if ((${#need[@]})) && ! apt_install "${need[@]}"; then
    warn "apt-get install ${need[*]} failed (above)"
  fi
  apt_install shellcheck 2>/dev/null || warn "shellcheck is not installable"
else
  log "all present"
fi

if command -v shellcheck >/dev/null; then
  if out=$(shellcheck -x -P "$REPO" ci/containers.sh ci/containers/*.sh 2>&1); then
    pass script shellcheck lint "ci/containers.sh ci/containers/*.sh clean ($(shellcheck --version | sed -n 's/^version: //p'))"
  else
    fail script shellcheck lint "$(head -n 20 <<<"$out" | tr '\n' ' ')"
  fi
else
  skip script shellcheck "shellcheck is not installable here"
fi

log "== build"
t1=$SECONDS
if ! cargo build --release --locked --quiet 2>"$WORK/build.log"; then
  tail -n 30 "$WORK/build.log" >&2
  fail vproc build cargo "cargo build --release failed (see above)"
  summary
  counts
fi
log "built target/release/vproc in $((SECONDS - t1))s"

log "== rootfs"
if ! ensure_rootfs "$ROOTFS"; then
  fail rootfs build debootstrap "no rootfs (see above); nothing can run"
  summary
  counts
fi
install -m 755 ci/containers/inside.sh "$ROOTFS/usr/local/bin/vproc-inside"

log "== vproc"
if ! start_vproc; then
  fail vproc daemon start "$(tr '\n' ' ' <"$WORK/vproc.log")"
  summary
  counts
fi
log "vproc --enable-cfs serving $MNT (pid $VPROC_PID)"
log "host: $(nproc) CPUs ($(cat /sys/devices/system/cpu/online)), $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) kB RAM, $(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo) kB swap, kernel $(uname -r), cgroups $(cg_hierarchies | awk '$2 == "cgroup2" { v2++ } $2 != "cgroup2" { v1++ } END { print (v1 && v2 ? "hybrid" : v1 ? "v1" : "v2") }')"

for m in ${MANAGERS:-podman lxc nspawn}; do
  t1=$SECONDS
  "run_$m"
  log "== $m: $((SECONDS - t1))s"
done

log "== stopping vproc, cleaning up"
stop_vproc record
run_cleanup
rm -rf --one-file-system "$ROOTFS"
summary
log "wall time: $((SECONDS - T0))s"
counts
