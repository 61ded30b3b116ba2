# shellcheck shell=bash
# LXC on the cached rootfs: lxc-execute (the command runs under LXC's init.lxc) and
# lxc-start (lxc.init.cmd as PID 1: the minbase rootfs has no init), both with vproc's
# own mount hook from `vproc deploy lxc-hook` and the lines of `vproc deploy lxc-config`.
# Containers live in a private lxcpath under $WORK; their cgroups below
# /vproc-test-ci-<pid>-lxc (lxc.cgroup.dir).

LXC_CG=vproc-test-ci-$$-lxc
LXCPATH=$WORK/lxc
LXC_SEQ=0

# lxc_limits SET: config lines of limit set a or b (memsw after memory: it must stay >=).
lxc_limits() {
  case $1 in
    a) printf '%s\n' lxc.cgroup.memory.limit_in_bytes=512M lxc.cgroup.memory.memsw.limit_in_bytes=768M \
         lxc.cgroup.cpuset.cpus=0 ;;
    b) printf '%s\n' lxc.cgroup.memory.limit_in_bytes=256M lxc.cgroup.memory.memsw.limit_in_bytes=256M \
         lxc.cgroup.cpu.cfs_period_us=100000 lxc.cgroup.cpu.cfs_quota_us=100000 ;;
  esac
}
# lxc_config NAME SET [INIT...]: write $LXCPATH/NAME/config.
lxc_config() {
  local name=$1 set=$2 l
  shift 2
  mkdir -p "$LXCPATH/$name"
  {
    cat "$LXCPATH/base.conf"
    echo "lxc.uts.name = $name"
    while read -r l; do echo "${l%%=*} = ${l#*=}"; done < <(lxc_limits "$set")
    [ $# -gt 0 ] && echo "lxc.init.cmd = $*"
  } >"$LXCPATH/$name/config"
}
# lxc_ TOOL ARGS...: an lxc-* tool on the private lxcpath, logging to lxc.log.
lxc_() { timeout 60 "$1" -P "$LXCPATH" -l INFO -o "$LXCPATH/lxc.log" "${@:2}" </dev/null; }

# lxc-execute
lxcexec_start() {
  lxc_config "$1" "$2"
  lxc_ lxc-execute -d -n "$1" -f "$LXCPATH/$1/config" -- sleep 300 >/dev/null || return 1
  lxc_wait_pid "$1"
}
lxcexec_exec() { lxc_ lxc-attach -n "$1" -- "${INSIDE[@]}"; }
lxcexec_stop() { lxc_ lxc-stop -k -n "$1" >/dev/null 2>&1; rm -rf "${LXCPATH:?}/$1"; }
lxcexec_once() {
  local name=vproc-test-ci-$$-x$((LXC_SEQ += 1))
  lxc_config "$name" "$1"
  lxc_ lxc-execute -n "$name" -f "$LXCPATH/$name/config" -- "${INSIDE[@]}"
  rm -rf "${LXCPATH:?}/$name"
}

# lxc-start
lxcstart_start() {
  lxc_config "$1" "$2" /bin/sleep 300
  lxc_ lxc-start -d -n "$1" >/dev/null || return 1
  lxc_wait_pid "$1"
}
lxcstart_exec() { lxcexec_exec "$@"; }
lxcstart_stop() { lxcexec_stop "$@"; }
lxcstart_once() {
  local name=vproc-test-ci-$$-s$((LXC_SEQ += 1))
  lxc_config "$name" "$1" "${INSIDE[@]}"
  lxc_ lxc-start -F -n "$name"
  rm -rf "${LXCPATH:?}/$name"
}

# The host pid of the container's init, once it runs.
lxc_wait_pid() {
  local pid _
  for _ in $(seq 50); do
    pid=$(lxc-info -n "$1" -P "$LXCPATH" -pH 2>/dev/null)
    [ -n "$pid" ] && { echo "$pid"; return 0; }
    sleep 0.1
  done
  echo "no init pid for $1: $(tail -n 5 "$LXCPATH/lxc.log")" >&2
  return 1
}

lxc_cleanup() {
  local c
  for c in "$LXCPATH"/*/; do
    [ -d "$c" ] && lxc-stop -k -n "$(basename "$c")" -P "$LXCPATH" >/dev/null 2>&1
  done
  umount_under "$LXCPATH"
  rm -rf "$LXCPATH"
  cg_remove "$LXC_CG"
  # LXC's lock directory for this lxcpath (/run/lxc/lock/<lxcpath>) and its empty
  # parents; /run/lxc/lock and /run/lxc too when empty (LXC makes them on demand; a
  # concurrent run may have created them, so "only if we did" would leave them behind).
  local d=/run/lxc/lock$LXCPATH
  rm -rf "$d"
  d=$(dirname "$d")
  while [ "$d" != /run/lxc/lock ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
  rmdir /run/lxc/lock /run/lxc 2>/dev/null
  return 0
}

run_lxc() {
  local hook=$WORK/lxc/vproc-mount-hook out
  log "== LXC $(lxc-execute --version 2>/dev/null)"
  if ! command -v lxc-execute >/dev/null; then
    skip lxc-exec all "lxc is not installed (apt-get install lxc failed?)"
    skip lxc-start all "lxc is not installed (apt-get install lxc failed?)"
    return
  fi
  defer lxc_cleanup
  mkdir -p "$LXCPATH"
  # The product's helpers, used as they are.
  "$VPROC" deploy lxc-hook --mountpoint "$MNT" >"$hook" && chmod 755 "$hook"
  {
    echo "lxc.rootfs.path = dir:$ROOTFS"
    echo "lxc.net.0.type = empty"
    echo "lxc.apparmor.profile = unconfined"
    echo "lxc.console.path = none"
    echo "lxc.tty.max = 0"
    echo "lxc.cgroup.dir = $LXC_CG"
    "$VPROC" deploy lxc-config --hook "$hook" | grep -v '^#'
  } >"$LXCPATH/base.conf"
  sed 's/^/        | /' "$LXCPATH/base.conf"

  # lxc-execute
  if out=$(lxc_ lxc-execute -n "vproc-test-ci-$$-probe" -f "$LXCPATH/base.conf" -- true 2>&1); then
    pass lxc-exec helper "deploy lxc-hook/config" "lxc-execute starts with vproc's hook"
    container_cases lxc-exec lxcexec
  else
    fail lxc-exec helper "deploy lxc-hook/config" "lxc-execute fails: ${out//$'\n'/ } $(tail -n 5 "$LXCPATH/lxc.log" | tr '\n' ' ')"
  fi

  # lxc-start: needs an init in the rootfs; lxc.init.cmd names one.
  lxc_config "vproc-test-ci-$$-probe" a /bin/true
  if out=$(lxc_ lxc-start -F -n "vproc-test-ci-$$-probe" 2>&1); then
    pass lxc-start helper "deploy lxc-hook/config" "lxc-start (lxc.init.cmd) starts with vproc's hook"
    container_cases lxc-start lxcstart
  else
    skip lxc-start all "lxc-start cannot start a container here: ${out//$'\n'/ } $(tail -n 5 "$LXCPATH/lxc.log" | tr '\n' ' ')"
  fi
  rm -rf "${LXCPATH:?}/vproc-test-ci-$$-probe"
}
