# shellcheck shell=bash
# Shared helpers for ci/containers.sh and the per-manager files (podman.sh, lxc.sh,
# nspawn.sh): result records, the cleanup stack, cgroup arithmetic, the rootfs cache,
# the vproc daemon, and the comparison of what a container saw with its cgroup.
#
# The caller sets WORK (a private temporary directory) before sourcing this file.

: "${WORK:?WORK must be set before sourcing lib.sh}"
RESULTS=$WORK/results.tsv
: >"$RESULTS"
T0=${T0:-$SECONDS}
# Short-lived containers per manager in the back-to-back case.
BACK_TO_BACK=${BACK_TO_BACK:-10}
# What runs inside every container (copied into the rootfs by prepare_rootfs).
# shellcheck disable=SC2034 # used by the manager files
INSIDE=(sh /usr/local/bin/vproc-inside)

log() { printf '[%4ss] %s\n' $((SECONDS - T0)) "$*"; }
warn() { printf '[%4ss] WARNING: %s\n' $((SECONDS - T0)) "$*" >&2; }

# ---------------------------------------------------------------- result records ----
# record STATUS MANAGER CASE CHECK DETAIL  (STATUS: PASS, FAIL or SKIP)
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$RESULTS"
  local tag
  case $1 in PASS) tag='  ok  ' ;; FAIL) tag=' FAIL ' ;; *) tag=' SKIP ' ;; esac
  printf '   %s %-9s %-6s %-22s %s\n' "$tag" "$2" "$3" "$4" "${5:-}"
}
pass() { record PASS "$@"; }
fail() { record FAIL "$@"; }
# skip MANAGER CASE REASON: loud, never counted as passed.
skip() {
  record SKIP "$1" "$2" "-" "$3"
  printf '\n*** SKIPPED %s %s: %s\n\n' "$1" "$2" "$3" >&2
}

# summary: the table of checks per manager and case.
summary() {
  printf '\n== summary: checks per manager and case (a: 512 MiB + 256 MiB swap, cpuset 0;\n'
  printf '   b: 256 MiB, no swap, 1 CPU of quota; b2b: %s short-lived containers, a/b alternating)\n' "$BACK_TO_BACK"
  printf '%-9s %-10s %6s %6s %7s  %s\n' manager case passed failed skipped 'what failed or was skipped'
  awk -F'\t' '
    { key = $2 "\t" $3; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      c[key, $1]++
      if ($1 != "PASS") note[key] = note[key] (note[key] ? " | " : "") ($1 == "SKIP" ? "skipped: " $5 : $4 ": " $5) }
    END { for (i = 1; i <= n; i++) { split(order[i], k, "\t")
            printf "%-9s %-10s %6d %6d %7d  %s\n", k[1], k[2], c[order[i], "PASS"], c[order[i], "FAIL"], c[order[i], "SKIP"], substr(note[order[i]], 1, 300) } }
  ' "$RESULTS"
}
# count_lines: the closing lines; status 1 if a check failed.
# shellcheck disable=SC2034 # COUNTED is read by the EXIT trap of ci/containers.sh
count_lines() {
  local p f s
  p=$(grep -c '^PASS' "$RESULTS")
  f=$(grep -c '^FAIL' "$RESULTS")
  s=$(grep -c '^SKIP' "$RESULTS")
  COUNTED=1 # read by the EXIT trap of ci/containers.sh
  echo "(see the *** SKIPPED lines; a skip never counts as passed)"
  summary_line "$p" "$f" "$s"
  [ "$f" = 0 ]
}
# counts: the closing lines, then exit (1 if a check failed).
counts() {
  count_lines
  exit $?
}

# ---------------------------------------------------------------- cleanup stack -----
# defer CMD: run the string CMD (eval) at cleanup, last deferred first.
CLEANUP=()
defer() { CLEANUP+=("$*"); }
run_cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[i]}" || warn "cleanup step failed: ${CLEANUP[i]}"
  done
  CLEANUP=()
}
# umount_under DIR: detach every mount at or below DIR (deepest first).
umount_under() {
  local m
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || warn "cannot unmount $m"; done
}

# ---------------------------------------------------------------- small helpers -----
# kv FILE KEY: the value of KEY=... in FILE.
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }
# The host's uptime, seconds (to 0.01).
host_uptime() { cut -d' ' -f1 /proc/uptime; }
# proc_age PID: seconds since PID started, from the host (start time in clock ticks).
proc_age() {
  awk -v tck="$(getconf CLK_TCK)" -v up="$(host_uptime)" '{ sub(/.*\) /, ""); printf "%.2f\n", up - $20 / tck }' "/proc/$1/stat"
}
# Expand a CPU list ("0-2,5") to one number per line.
cpu_list() {
  tr ',' '\n' <<<"$1" | awk -F- 'NF { if (NF == 1) print $1; else for (i = $1; i <= $2; i++) print i }'
}
cpu_count() { cpu_list "$1" | grep -c .; }
# cpu_ranges: numbers on stdin (ascending) as a kernel CPU list ("0-2,5").
cpu_ranges() {
  awk 'function put() { out = out (out == "" ? "" : ",") (s == p ? s : s "-" p) }
       NR == 1 { s = p = $1; next } $1 == p + 1 { p = $1; next } { put(); s = p = $1 }
       END { if (NR) put(); print out }'
}

# ---------------------------------------------------------------- cgroups -----------
# Every mounted cgroup hierarchy: "DIR OPTIONS" per line (v1: its controllers, or
# name=systemd; v2: "cgroup2").
cg_hierarchies() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
         if ($(i+1) == "cgroup") print $5, $(i+3); else if ($(i+1) == "cgroup2") print $5, "cgroup2" }' \
    /proc/self/mountinfo
}
# cg_v1_dir CONTROLLER: the mount point of the v1 hierarchy holding CONTROLLER.
cg_v1_dir() {
  cg_hierarchies | awk -v c="$1" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $1; exit } }'
}
# cg_path_of PID CONTROLLER: PID's cgroup path in CONTROLLER's hierarchy.
cg_path_of() {
  awk -F: -v c="$2" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $3; exit } }' "/proc/$1/cgroup"
}
# cg_make NAME: create /NAME in every hierarchy (v1 and v2); a v1 cpuset gets its
# parent's CPUs and memory nodes.
cg_make() {
  local dir _opts
  case $1 in vproc-test-*) ;; *) warn "refusing to create cgroup $1"; return 1 ;; esac
  while read -r dir _opts; do
    mkdir -p "$dir/$1" || return 1
    if [ -e "$dir/$1/cpuset.mems" ] && [ -z "$(cat "$dir/$1/cpuset.mems")" ]; then
      cat "$dir/cpuset.mems" >"$dir/$1/cpuset.mems" || return 1
      cat "$dir/cpuset.cpus" >"$dir/$1/cpuset.cpus" || return 1
    fi
  done < <(cg_hierarchies)
}
# cg_join NAME PID: move PID into /NAME in every hierarchy.
cg_join() {
  local dir _opts
  while read -r dir _opts; do
    echo "$2" >"$dir/$1/cgroup.procs" || return 1
  done < <(cg_hierarchies)
}
# cg_set NAME CONTROLLER FILE VALUE
cg_set() { echo "$4" >"$(cg_v1_dir "$2")/$1/$3"; }
# cg_remove NAME: end what is left in /NAME (a vproc-test-* cgroup this run created)
# and remove it with everything below it, in every hierarchy.
cg_remove() {
  local dir _opts pid pids try
  case $1 in vproc-test-*) ;; *) warn "refusing to remove cgroup $1"; return 1 ;; esac
  while read -r dir _opts; do
    [ -d "$dir/$1" ] || continue
    for try in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(find "$dir/$1" -name cgroup.procs -exec cat {} + 2>/dev/null)
      [ -z "$pids" ] && break
      for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
      sleep 0.2
    done
    for try in 1 2 3 4 5 6 7 8 9 10; do
      find "$dir/$1" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ -d "$dir/$1" ] || break
      sleep 0.2
    done
    [ -d "$dir/$1" ] && warn "cgroup $dir/$1 could not be removed (try $try)"
  done < <(cg_hierarchies)
  return 0
}

# The smallest positive value of FILE in the cgroup PATH of the hierarchy at ROOT and
# its ancestors; empty if none.
cg_min_up() {
  local root=$1 path=$2 file=$3 v best=""
  while :; do
    if [ -r "$root$path/$file" ]; then
      v=$(cat "$root$path/$file")
      if [ "$v" -gt 0 ] 2>/dev/null && { [ -z "$best" ] || [ "$v" -lt "$best" ]; }; then best=$v; fi
    fi
    if [ "$path" = / ] || [ -z "$path" ]; then break; fi
    path=$(dirname "$path")
  done
  echo "$best"
}

# cg_expect PID: what vproc --enable-cfs should show to the container whose init is PID,
# from that process's cgroups as the host sees them. Sets
#   EXP_MEM_KB   min(memory.limit_in_bytes over the cgroup and its ancestors, host RAM)
#   EXP_SWAPLIM_KB  the swap limit, memsw - memory (0 without swap accounting)
#   EXP_SWAP_KB  min(EXP_SWAPLIM_KB, host swap)
#   EXP_CPUSET   the cpuset's effective CPUs that are online (host numbers)
#   EXP_NCPU     their count, capped at ceil(tightest quota / period)
#   EXP_QUOTA    "quota/period" or "none";  EXP_CG  the cgroup paths, for the log.
cg_expect() {
  local pid=$1 mroot croot sroot mpath cpath spath lim memsw host_kb host_swap_kb cpus online path q p qn="" qd=""
  mroot=$(cg_v1_dir memory) croot=$(cg_v1_dir cpu) sroot=$(cg_v1_dir cpuset)
  mpath=$(cg_path_of "$pid" memory) cpath=$(cg_path_of "$pid" cpu) spath=$(cg_path_of "$pid" cpuset)
  EXP_CG="memory:$mpath cpu:$cpath cpuset:$spath"
  host_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  host_swap_kb=$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)
  lim=$(cg_min_up "$mroot" "$mpath" memory.limit_in_bytes)
  EXP_MEM_KB=$host_kb
  if [ -n "$lim" ] && [ $((lim / 1024)) -lt "$host_kb" ]; then EXP_MEM_KB=$((lim / 1024)); fi
  EXP_SWAPLIM_KB=0
  if [ -r "$mroot$mpath/memory.memsw.limit_in_bytes" ]; then
    memsw=$(cg_min_up "$mroot" "$mpath" memory.memsw.limit_in_bytes)
    EXP_SWAPLIM_KB=$(((memsw - ${lim:-$memsw}) / 1024))
  fi
  EXP_SWAP_KB=$EXP_SWAPLIM_KB
  [ "$EXP_SWAP_KB" -gt "$host_swap_kb" ] && EXP_SWAP_KB=$host_swap_kb
  cpus=$(cat "$sroot$spath/cpuset.effective_cpus" 2>/dev/null || cat "$sroot$spath/cpuset.cpus")
  online=$(cat /sys/devices/system/cpu/online)
  EXP_CPUSET=$(comm -12 <(cpu_list "$cpus" | sort) <(cpu_list "$online" | sort) | sort -n | paste -sd, -)
  EXP_NCPU=$(cpu_count "$EXP_CPUSET")
  path=$cpath
  while :; do
    q=$(cat "$croot$path/cpu.cfs_quota_us" 2>/dev/null || echo -1)
    p=$(cat "$croot$path/cpu.cfs_period_us" 2>/dev/null || echo 0)
    if [ "$q" -gt 0 ] && [ "$p" -gt 0 ] && { [ -z "$qn" ] || [ $((q * qd)) -lt $((qn * p)) ]; }; then qn=$q qd=$p; fi
    if [ "$path" = / ] || [ -z "$path" ]; then break; fi
    path=$(dirname "$path")
  done
  EXP_QUOTA=none
  if [ -n "$qn" ]; then
    EXP_QUOTA=$qn/$qd
    [ $(((qn + qd - 1) / qd)) -lt "$EXP_NCPU" ] && EXP_NCPU=$(((qn + qd - 1) / qd))
  fi
  return 0
}

# expect_limits SET: the same variables for a container started with limit set SET, when
# its cgroup is gone before the host could read it (short-lived containers).
#   a: 512 MiB, swap limit 256 MiB (memsw 768 MiB), cpuset 0
#   b: 256 MiB, no swap (memsw = memory), the host's CPUs, quota 100000/100000 (1 CPU)
expect_limits() {
  local host_swap_kb
  host_swap_kb=$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)
  case $1 in
    a) EXP_MEM_KB=524288 EXP_SWAPLIM_KB=262144 EXP_CPUSET=0 EXP_NCPU=1 EXP_QUOTA=none ;;
    b) EXP_MEM_KB=262144 EXP_SWAPLIM_KB=0 EXP_NCPU=1 EXP_QUOTA=100000/100000
       EXP_CPUSET=$(cpu_list "$(cat /sys/devices/system/cpu/online)" | paste -sd, -) ;;
  esac
  EXP_SWAP_KB=$EXP_SWAPLIM_KB
  [ "$EXP_SWAP_KB" -gt "$host_swap_kb" ] && EXP_SWAP_KB=$host_swap_kb
  EXP_CG="(limit set $1 as requested)"
}

# ---------------------------------------------------------------- the comparison ----
# The files every manager must serve from vproc (inside.sh reports the FUSE ones).
CORE_FILES="/proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /sys/devices/system/cpu/online"

# evaluate FILE UPMIN UPMAX: compare what inside.sh printed in FILE with EXP_*; the
# container's uptime must lie in [UPMIN, UPMAX] s. One "check<TAB>PASS|FAIL<TAB>detail"
# line per check.
evaluate() {
  local f=$1 upmin=$2 upmax=$3 v w c missing="" fuse
  _row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
  _same() { if [ "$2" = "$3" ]; then _row "$1" PASS "$3${4:+ ($4)}"; else _row "$1" FAIL "got '$3', want '$2'${4:+ ($4)}"; fi; }
  _same MemTotal "$EXP_MEM_KB" "$(kv "$f" memtotal)" kB
  _same SwapTotal "$EXP_SWAP_KB" "$(kv "$f" swaptotal)" "kB; swap limit $EXP_SWAPLIM_KB kB, host swap $(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo) kB"
  _same "free -m" "Mem $((EXP_MEM_KB / 1024)) Swap $((EXP_SWAP_KB / 1024))" "Mem $(kv "$f" free_mem) Swap $(kv "$f" free_swap)"
  # nproc counts sched_getaffinity (the cpuset), which no file can change: the quota
  # does not reach it (with --enable-cfs, and in LXCFS too).
  _same nproc "$(cpu_count "$EXP_CPUSET")" "$(kv "$f" nproc)" "affinity = cpuset $EXP_CPUSET"
  _same "getconf NPROCESSORS" "$EXP_NCPU" "$(kv "$f" getconf)" "glibc reads sys/devices/system/cpu/online"
  # online: the first EXP_NCPU CPUs of the cpuset, host numbers.
  _same online "$(cpu_list "$EXP_CPUSET" | head -n "$EXP_NCPU" | cpu_ranges)" "$(kv "$f" online)" "$EXP_NCPU of cpuset $EXP_CPUSET; quota $EXP_QUOTA"
  _same cpuinfo "$EXP_NCPU" "$(kv "$f" cpuinfo)" "processor blocks"
  _same "stat cpuN" "$EXP_NCPU" "$(kv "$f" statcpus)" "cpuN lines"
  v=$(kv "$f" uptime)
  if [ -n "$v" ] && awk -v u="$v" -v lo="$upmin" -v hi="$upmax" 'BEGIN { exit !(u >= lo - 0.02 && u <= hi + 0.02) }'; then
    _row uptime PASS "$v s, within [$upmin, $upmax] s +- 0.02"
  else
    _row uptime FAIL "got '$v' s, want the init's age, within [$upmin, $upmax] s +- 0.02"
  fi
  w=$(awk -v k="$EXP_MEM_KB" 'BEGIN { printf "%.1f", k / 1024 }')
  c=$(awk -v k="$EXP_SWAP_KB" 'BEGIN { printf "%.1f", k / 1024 }')
  v="$(kv "$f" top_up | grep -o 'up [^,]*') / Mem $(kv "$f" top_mem | awk '{ print $4 }') / Swap $(kv "$f" top_swap | awk '{ print $3 }')"
  _same "top header" "up 0 min / Mem $w / Swap $c" "$v" "MiB"
  fuse=$(kv "$f" fuse)
  for w in $CORE_FILES; do
    case " $fuse " in *" $w "*) ;; *) missing+=" $w" ;; esac
  done
  if [ -z "$missing" ]; then
    _row "served by vproc" PASS "$(wc -w <<<"$fuse") files are FUSE: $fuse"
  else
    _row "served by vproc" FAIL "not from vproc:$missing (FUSE: $fuse)"
  fi
}

# check_seen MANAGER CASE FILE UPMIN UPMAX: one record per check.
check_seen() {
  local m=$1 c=$2 f=$3 name status detail
  if ! grep -q '^memtotal=' "$f"; then
    fail "$m" "$c" "container output" "nothing from inside.sh: $(tr '\n' ' ' <"$f.err" | tail -c 400)"
    return
  fi
  while IFS=$'\t' read -r name status detail; do
    record "$status" "$m" "$c" "$name" "$detail"
  done < <(evaluate "$f" "$4" "$5")
}

# check_quick MANAGER CASE LABEL FILE UPMAX: one record for a short-lived container.
check_quick() {
  local m=$1 c=$2 label=$3 f=$4 bad
  if ! grep -q '^memtotal=' "$f"; then
    fail "$m" "$c" "$label" "nothing from inside.sh: $(tr '\n' ' ' <"$f.err" | tail -c 400)"
    return
  fi
  bad=$(evaluate "$f" 0 "$5" | awk -F'\t' '$2 == "FAIL" { printf "%s%s: %s", (n++ ? "; " : ""), $1, $3 }')
  if [ -z "$bad" ]; then
    pass "$m" "$c" "$label" "MemTotal $(kv "$f" memtotal) kB, $(kv "$f" cpuinfo) CPU, online $(kv "$f" online), uptime $(kv "$f" uptime) s <= ${5} s, $(kv "$f" pidns)"
  else
    fail "$m" "$c" "$label" "$bad"
  fi
}

# show FILE: what the container saw, indented, for the log.
show() { sed 's/^/        | /' "$1"; }

# container_cases MANAGER [PREFIX]: the two long-running containers (limit sets a and b)
# checked against their cgroups, then BACK_TO_BACK short-lived ones alternating a and b.
# The manager's file provides PREFIX_start NAME SET (prints the host pid of the
# container's init), PREFIX_exec NAME, PREFIX_stop NAME and PREFIX_once SET.
container_cases() {
  local m=$1 x=${2:-$1} set name pid f age0 age1 t0 t1 i ns seen="" reused=0 want_mem
  for set in a b; do
    name=vproc-test-ci-$$-$x-$set
    f=$WORK/$m-$set.out
    log "$m: container $name (limit set $set)"
    if ! pid=$("${x}_start" "$name" "$set" 2>"$f.err") || [ -z "$pid" ]; then
      fail "$m" "$set" start "$(tr '\n' ' ' <"$f.err" | tail -c 400)"
      "${x}_stop" "$name"
      continue
    fi
    cg_expect "$pid"
    if [ "$set" = a ]; then want_mem=524288; else want_mem=262144; fi
    if [ "$EXP_MEM_KB" = "$want_mem" ] && [ "$EXP_NCPU" = 1 ]; then
      pass "$m" "$set" "cgroup" "memory $EXP_MEM_KB kB, swap limit $EXP_SWAPLIM_KB kB, cpuset $EXP_CPUSET, quota $EXP_QUOTA ($EXP_CG)"
    else
      fail "$m" "$set" "cgroup" "limits not applied: memory $EXP_MEM_KB kB, cpuset $EXP_CPUSET, quota $EXP_QUOTA ($EXP_CG)"
    fi
    age0=$(proc_age "$pid")
    "${x}_exec" "$name" >"$f" 2>"$f.err"
    age1=$(proc_age "$pid")
    "${x}_stop" "$name"
    show "$f"
    check_seen "$m" "$set" "$f" "$age0" "$age1"
    ns=$(kv "$f" pidns)
    seen+=" $ns"
  done

  log "$m: $BACK_TO_BACK short-lived containers back to back"
  for ((i = 1; i <= BACK_TO_BACK; i++)); do
    if ((i % 2)); then set=a; else set=b; fi
    f=$WORK/$m-b2b-$i.out
    t0=$(host_uptime)
    "${x}_once" "$set" >"$f" 2>"$f.err"
    t1=$(host_uptime)
    expect_limits "$set"
    check_quick "$m" b2b "#$i ($set)" "$f" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    ns=$(kv "$f" pidns)
    [ -n "$ns" ] && case " $seen " in *" $ns "*) reused=$((reused + 1)) ;; esac
    seen+=" $ns"
  done
  if [ "$reused" -gt 0 ]; then
    pass "$m" b2b "pid ns reused" "$reused of $BACK_TO_BACK containers got a pid namespace inode an earlier one had"
  else
    skip "$m" b2b "no pid namespace inode was reused in this run: the reuse case was not exercised"
  fi
}

# ---------------------------------------------------------------- the rootfs --------
# The Debian mirror the machine's apt uses for bookworm (deb822 or one-line sources).
debian_mirror() {
  local f m=""
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    case $f in
      *.sources)
        m=$(awk 'BEGIN { RS = ""; FS = "\n" }
                 { uri = ""; ok = 0; deb = 0
                   for (i = 1; i <= NF; i++) {
                     if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                     if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
                     if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1 }
                   if (ok && deb && uri != "") { print uri; exit } }' "$f") ;;
      *) m=$(awk '$1 == "deb" { l = $0; sub(/^[ \t]+/, "", l); sub(/\[[^]]*\]/, "", l); split(l, a, /[ \t]+/)
                                if (a[3] == "bookworm") { print a[2]; exit } }' "$f") ;;
    esac
    [ -n "$m" ] && break
  done
  echo "${m:-http://deb.debian.org/debian}"
}

# ensure_rootfs DIR: a minimal Debian bookworm rootfs (minbase + procps) extracted at
# DIR, from the machine cache (debootstrap on a miss). The cache is one tarball outside
# the checkout, written atomically under a lock: concurrent runs neither race nor see
# half a cache.
ROOTFS_CACHE_DIR=${VPROC_CI_CACHE:-/var/cache/vproc-ci}
ROOTFS_TARBALL=$ROOTFS_CACHE_DIR/rootfs-bookworm-minbase-procps.tar.zst
ensure_rootfs() {
  local dest=$1 t mirror build rc lockfd
  mkdir -p "$ROOTFS_CACHE_DIR" "$dest"
  t=$SECONDS
  exec {lockfd}>"$ROOTFS_CACHE_DIR/rootfs.lock"
  flock -n "$lockfd" || log "rootfs: waiting for $ROOTFS_CACHE_DIR/rootfs.lock (another run is building the cache)"
  if ! flock -w 900 "$lockfd"; then
    warn "rootfs: could not take $ROOTFS_CACHE_DIR/rootfs.lock within 15 min"
    exec {lockfd}>&-
    return 1
  fi
  if [ -s "$ROOTFS_TARBALL" ]; then
    log "rootfs: cache hit: $ROOTFS_TARBALL ($(du -h "$ROOTFS_TARBALL" | cut -f1))"
  else
    mirror=$(debian_mirror)
    log "rootfs: cache miss: debootstrap --variant=minbase --include=procps bookworm $mirror"
    build=$(mktemp -d "$ROOTFS_CACHE_DIR/build.XXXXXX")
    debootstrap --variant=minbase --include=procps bookworm "$build" "$mirror" >"$WORK/debootstrap.log" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
      chmod 755 "$build"
      # apt's package lists and caches are not needed to run containers.
      tar -C "$build" --numeric-owner --exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' \
        -cf - . | zstd -q -T0 -o "$ROOTFS_TARBALL.tmp.$$" && mv "$ROOTFS_TARBALL.tmp.$$" "$ROOTFS_TARBALL"
      rc=$?
    else
      tail -n 20 "$WORK/debootstrap.log" >&2
    fi
    rm -rf --one-file-system "$build" "$ROOTFS_TARBALL.tmp.$$"
    if [ "$rc" != 0 ]; then
      warn "rootfs: building failed (exit $rc)"
      exec {lockfd}>&-
      return 1
    fi
    log "rootfs: built and cached in $((SECONDS - t))s: $ROOTFS_TARBALL ($(du -h "$ROOTFS_TARBALL" | cut -f1))"
  fi
  exec {lockfd}>&-
  zstd -q -dc "$ROOTFS_TARBALL" | tar -C "$dest" --numeric-owner -xf - || return 1
  chmod 755 "$dest"
  log "rootfs: ready at $dest in $((SECONDS - t))s"
}

# ---------------------------------------------------------------- the daemon --------
# start_vproc: this build at $MNT (--enable-cfs), in the background; waits until
# proc/meminfo is readable. Sets VPROC_PID.
start_vproc() {
  local i
  mkdir -p "$MNT"
  "$VPROC" --enable-cfs -p "$WORK/vproc.pid" "$MNT" >"$WORK/vproc.log" 2>&1 </dev/null &
  VPROC_PID=$!
  for i in $(seq 100); do
    head -c1 "$MNT/proc/meminfo" >/dev/null 2>&1 && return 0
    kill -0 "$VPROC_PID" 2>/dev/null || break
    sleep 0.1
  done
  warn "vproc did not come up: $(cat "$WORK/vproc.log")"
  return 1
}
# stop_vproc [record]: SIGTERM, wait; with "record", check exit 0 and no mount left.
stop_vproc() {
  local rc i
  [ -n "${VPROC_PID:-}" ] || return 0
  kill -TERM "$VPROC_PID" 2>/dev/null
  for i in $(seq 100); do kill -0 "$VPROC_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$VPROC_PID" 2>/dev/null; then
    warn "vproc did not exit on SIGTERM within 10 s; SIGKILL"
    kill -KILL "$VPROC_PID" 2>/dev/null
  fi
  wait "$VPROC_PID" 2>/dev/null
  rc=$?
  VPROC_PID=
  if [ "${1:-}" = record ]; then
    if [ "$rc" = 0 ] && ! mountpoint -q "$MNT"; then
      pass vproc daemon "SIGTERM" "exit 0, $MNT unmounted"
    else
      fail vproc daemon "SIGTERM" "exit $rc, $(mountpoint -q "$MNT" && echo still mounted || echo unmounted); log: $(tail -n 5 "$WORK/vproc.log" | tr '\n' ' ')"
    fi
  fi
  mountpoint -q "$MNT" && umount -l "$MNT"
  return 0
}
