# shellcheck shell=bash
# Podman with runc on the cached rootfs (--rootfs), cgroupfs manager, no network, and
# the bind mounts from `vproc mounts --docker`. Private storage under $WORK (removed at
# the end); every container below the cgroup parent /vproc-test-ci-<pid>-podman.
#
# Host obstacles met here and handled explicitly (see README.md):
#  * crun (Debian's default runtime for podman) refuses hybrid cgroups;
#  * no CAP_SYS_RESOURCE: podman's default container rlimits (nofile 1048576; with
#    --ulimit nofile alone, nproc 1048576) exceed the hard limits, so --ulimit passes
#    both, at values this shell (and podman) may give;
#  * runc refuses bind mounts over /proc/pressure/* (not in its allow-list):
#    `vproc mounts --docker` leaves them out; if runc refused its flags, the helper
#    check fails and podman's cases are not run.

PODMAN_CG=vproc-test-ci-$$-podman
PODMAN_BINDS=()

# podman_ ARGS...: podman with private storage, cgroupfs, runc; at most 60 s.
podman_() {
  timeout 60 podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp" \
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
    --runtime "${PODMAN_RUNTIME:-runc}" "$@" </dev/null
}

# The rlimits podman may set without CAP_SYS_RESOURCE: this shell's hard nofile limit,
# and nproc no higher than the 32768 podman 4.3 lowers its own limit to (strace:
# setrlimit(RLIMIT_NPROC, 32768)). Both are needed: given nofile alone, podman asks for
# nproc 1048576. Sets PODMAN_ULIMITS.
podman_ulimits() {
  local nofile nproc
  nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  PODMAN_ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}

# podman_args SET: every `podman run` flag but the command, for limit set a (512 MiB,
# 256 MiB swap, cpuset 0) or b (256 MiB, no swap, 1 CPU of quota). Sets PODMAN_ARGS.
podman_args() {
  PODMAN_ARGS=(--network none --cgroup-parent "/$PODMAN_CG" "${PODMAN_ULIMITS[@]}")
  case $1 in
    a) PODMAN_ARGS+=(--memory 512m --memory-swap 768m --cpuset-cpus 0) ;;
    b) PODMAN_ARGS+=(--memory 256m --memory-swap 256m --cpus 1) ;;
  esac
  PODMAN_ARGS+=("${PODMAN_BINDS[@]}" --rootfs "$ROOTFS")
}

podman_start() { # NAME SET -> the host pid of the container's init
  podman_args "$2"
  podman_ run -d --name "$1" "${PODMAN_ARGS[@]}" sleep 300 >/dev/null || return 1
  podman_ inspect -f '{{.State.Pid}}' "$1"
}
podman_exec() { podman_ exec "$1" "${INSIDE[@]}"; }
podman_stop() { podman_ rm -f -t 0 "$1" >/dev/null 2>&1; }
podman_once() { # SET
  podman_args "$1"
  podman_ run --rm "${PODMAN_ARGS[@]}" "${INSIDE[@]}"
}

podman_cleanup() {
  podman_ rm -a -f -t 0 >/dev/null 2>&1
  umount_under "$WORK/podman"
  rm -rf --one-file-system "$WORK/podman"
  cg_remove "$PODMAN_CG"
  # The runtimes' state roots, when empty (made on demand; see lxc_cleanup).
  rmdir /run/runc /run/crun 2>/dev/null
  return 0
}

run_podman() {
  local out flags
  log "== podman ($(podman --version 2>/dev/null), $(runc --version 2>/dev/null | head -n1))"
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
    skip podman all "podman or runc is not installed (apt-get install podman runc failed?)"
    return
  fi
  defer podman_cleanup
  mkdir -p "$WORK/podman"
  podman_ulimits

  # Debian's default runtime, for the record.
  if ! command -v crun >/dev/null; then
    skip podman crun "crun is not installed; Debian's podman defaults to it, and it refuses hybrid cgroups (\"cgroups in hybrid mode not supported\"): runc is used"
  elif out=$(PODMAN_RUNTIME=crun podman_ run --rm --network none --cgroup-parent "/$PODMAN_CG" \
    "${PODMAN_ULIMITS[@]}" --rootfs "$ROOTFS" true 2>&1); then
    pass podman crun runs "crun $(crun --version | awk 'NR == 1 { print $3 }') runs containers here too"
  else
    skip podman crun "crun cannot run containers on this host: ${out//$'\n'/ } (hybrid cgroup layout); runc is used"
  fi

  # The product's helper, used as is.
  flags=$("$VPROC" mounts --docker --mountpoint "$MNT")
  read -r -a PODMAN_BINDS <<<"$flags"
  if out=$(podman_ run --rm --network none --cgroup-parent "/$PODMAN_CG" "${PODMAN_ULIMITS[@]}" \
    "${PODMAN_BINDS[@]}" --rootfs "$ROOTFS" true 2>&1); then
    pass podman helper "vproc mounts --docker" "runc accepts all $((${#PODMAN_BINDS[@]} / 2)) bind mounts"
  else
    fail podman helper "vproc mounts --docker" "runc refuses the flags: ${out//$'\n'/ }"
    return
  fi

  container_cases podman
}
