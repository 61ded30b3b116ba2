# shellcheck shell=bash
# systemd-nspawn on the cached rootfs, on a host whose PID 1 is not systemd: no
# machined, no scope units. So: --register=no --keep-unit, and the limits are ours — a
# vproc-test-ci-<pid>-* cgroup created in every hierarchy, which the process that execs
# systemd-nspawn joins first (nspawn then puts the payload in <cgroup>/payload of the
# name=systemd and unified hierarchies and leaves the controllers' cgroups alone).
#
# vproc's files: nspawn makes binds whose destination is below /proc in its inner child,
# after chroot into the container, so their SOURCE must exist inside the container
# (systemd/systemd#19466, #26897; lxcfs#680). Hence `vproc mounts --nspawn` first binds
# vproc's tree at the same path (--bind-ro=MNT), then every file over its counterpart. /sys binds are made in the outer child: they work unless nspawn mounts
# /sys in the inner child, which it does with a private network (--private-network,
# --network-*): then the sysfs it mounts hides the sys/devices/system/cpu bind.

NSPAWN_DIR=$WORK/nspawn
NSPAWN_SEQ=0
NSPAWN_BINDS=()

# nspawn_cgroup NAME SET: create the cgroup NAME with limit set a or b.
nspawn_cgroup() {
  local name=$1 memsw
  echo "$name" >>"$NSPAWN_DIR/cgroups"
  cg_make "$name" || return 1
  memsw=$(cg_v1_dir memory)/$name/memory.memsw.limit_in_bytes
  case $2 in
    a) cg_set "$name" memory memory.limit_in_bytes 536870912 &&
       { [ ! -e "$memsw" ] || cg_set "$name" memory memory.memsw.limit_in_bytes 805306368; } &&
       cg_set "$name" cpuset cpuset.cpus 0 ;;
    b) cg_set "$name" memory memory.limit_in_bytes 268435456 &&
       { [ ! -e "$memsw" ] || cg_set "$name" memory memory.memsw.limit_in_bytes 268435456; } &&
       cg_set "$name" cpu cpu.cfs_period_us 100000 && cg_set "$name" cpu cpu.cfs_quota_us 100000 ;;
  esac
}
# nspawn_ NAME CMD...: systemd-nspawn in the cgroup NAME (joined before exec), as the
# machine NAME, its output passed through (--pipe: no pty, whose CRLF would garble it);
# killed after NSPAWN_TIMEOUT seconds unless that is 0.
nspawn_() { (nspawn_exec_ "$@") </dev/null; }
# nspawn_exec_ NAME CMD...: the same, replacing the calling (sub)shell.
nspawn_exec_() {
  local name=$1 t=()
  shift
  [ "${NSPAWN_TIMEOUT:-60}" = 0 ] || t=(timeout "${NSPAWN_TIMEOUT:-60}")
  cg_join "$name" "$BASHPID" || exit 125
  exec "${t[@]}" systemd-nspawn -q --pipe -M "$name" -D "$ROOTFS" --keep-unit --register=no "${NSPAWN_BINDS[@]}" -- "$@"
}

nspawn_start() {
  local name=$1 pid c _
  nspawn_cgroup "$name" "$2" || return 1
  # The subshell execs systemd-nspawn, so $! is nspawn and the init its child.
  (NSPAWN_TIMEOUT=0 nspawn_exec_ "$name" /bin/sleep 300) >"$NSPAWN_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$NSPAWN_DIR/$name.pid"
  # The container's init: the child of systemd-nspawn that is pid 1 in its namespace.
  for _ in $(seq 100); do
    for c in $(ps -o pid= --ppid "$pid"); do
      if grep -Eq "^NSpid:[[:space:]]+${c}[[:space:]]+1\$" "/proc/$c/status" 2>/dev/null; then
        echo "$c" >"$NSPAWN_DIR/$name.init"
        echo "$c"
        return 0
      fi
    done
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "no container init under systemd-nspawn (pid $pid): $(tail -n 5 "$NSPAWN_DIR/$name.log")" >&2
  return 1
}
nspawn_exec() {
  local name=$1 init
  init=$(cat "$NSPAWN_DIR/$name.init") || return 1
  # Into the container's cgroups first (nsenter does not move cgroups), then its
  # namespaces, root and working directory.
  (
    cg_join "$name" "$BASHPID" || exit 125
    exec timeout 60 nsenter -t "$init" -a --root --wd "${INSIDE[@]}"
  ) </dev/null
}
nspawn_stop() {
  local name=$1 pid _
  pid=$(cat "$NSPAWN_DIR/$name.pid" 2>/dev/null)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ]; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$NSPAWN_DIR/$name.pid"
  cg_remove "$name"
  nspawn_rundir_tidy "$name"
}
nspawn_once() {
  local name=vproc-test-ci-$$-n$((NSPAWN_SEQ += 1)) rc
  nspawn_cgroup "$name" "$1" || return 1
  nspawn_ "$name" "${INSIDE[@]}"
  rc=$?
  cg_remove "$name"
  nspawn_rundir_tidy "$name"
  return "$rc"
}

# nspawn leaves /run/systemd/nspawn/propagate/<machine> where /run is not a tmpfs (it
# refuses to rm -rf a disk file system); remove what this run created, if empty.
nspawn_rundir_tidy() {
  rmdir "/run/systemd/nspawn/propagate/$1" 2>/dev/null
  return 0
}

nspawn_cleanup() {
  local f name
  for f in "$NSPAWN_DIR"/*.pid; do
    [ -e "$f" ] && nspawn_stop "$(basename "$f" .pid)"
  done
  if [ -r "$NSPAWN_DIR/cgroups" ]; then
    while read -r name; do cg_remove "$name"; done <"$NSPAWN_DIR/cgroups"
  fi
  rm -rf "$NSPAWN_DIR"
  # nspawn's runtime directories, when empty (made on demand; see lxc_cleanup).
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null
  return 0
}

run_nspawn() {
  local out init
  init=$(cat /proc/1/comm)
  log "== systemd-nspawn ($(systemd-nspawn --version 2>/dev/null | head -n1)); PID 1 is '$init'"
  if ! command -v systemd-nspawn >/dev/null; then
    skip nspawn all "systemd-nspawn is not installed (apt-get install systemd-container failed?)"
    return
  fi
  [ "$init" = systemd ] || log "nspawn: PID 1 is not systemd: no machined, no scope units; --register=no --keep-unit, limits from our own cgroups"
  mkdir -p "$NSPAWN_DIR"
  defer nspawn_cleanup
  read -r -a NSPAWN_BINDS <<<"$("$VPROC" mounts --nspawn --mountpoint "$MNT")"
  log "nspawn: ${NSPAWN_BINDS[*]}"

  nspawn_cgroup "vproc-test-ci-$$-nprobe" a
  if ! out=$(nspawn_ "vproc-test-ci-$$-nprobe" /bin/true 2>&1); then
    skip nspawn all "systemd-nspawn cannot start a container here: ${out//$'\n'/ }"
    cg_remove "vproc-test-ci-$$-nprobe"
    return
  fi
  cg_remove "vproc-test-ci-$$-nprobe"
  nspawn_rundir_tidy "vproc-test-ci-$$-nprobe"
  pass nspawn helper "vproc mounts --nspawn" "systemd-nspawn starts with the flags of 'vproc mounts --nspawn'"
  container_cases nspawn
}
