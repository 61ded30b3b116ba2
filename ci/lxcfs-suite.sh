#!/usr/bin/env bash
# LXCFS's own test suite (tests/ of Debian's lxcfs source package) against vproc.
#
#   bash ci/lxcfs-suite.sh [BINARY]      BINARY: default target/release/vproc;
#                                        /usr/bin/lxcfs runs the same suite against LXCFS
#
# Root, non-interactive. Prints one line per test (passed / failed / skipped: reason)
# and ends with exactly "N passed, N failed, N skipped" (skips are never counted as passed); exits
# non-zero if any test failed.
#
# What it does, as LXCFS's tests/main.sh does, with the binary swapped:
# * fetches the lxcfs source package with apt-get source (a private apt configuration:
#   deb-src lines and lists under the cache, the host's apt configuration is untouched)
#   and caches it under $VPROC_CI_CACHE/lxcfs-suite (default /var/cache/vproc-ci). It wants 5.0.3
#   (Debian 12's lxcfs); if the archive does not serve that version's upstream tarball
#   it takes the newest lxcfs source the archive has and says so on the first line.
#   VPROC_LXCFS_SRC=/path/to/lxcfs-tree uses a given source tree instead.
# * renders the tests' meson/jinja templates (*.in) into a scratch directory with sed
#   ({{LXCFS_BUILD_ROOT}} = that directory) and builds the C helpers with gcc;
# * mounts BINARY on a private mount point in the scratch directory (never at
#   /var/lib/lxcfs: the tests take the mount point from LXCFSDIR, as main.sh sets it)
#   and runs each test as main.sh does: `unshare -fmp --mount-proc TEST`, then the
#   SIGUSR2 pair around test_sigusr2.sh, then main.sh's check for defunct daemon
#   processes; then it sends SIGUSR1 and runs the tests again, as
#   live-upgrade-test.sh does (its liblxcfs swap is LXCFS-only; see below).
#
# Tests that do not concern /proc or /sys files are reported as skipped with the reason:
# test_readdir and test_cgroup read LXCFS's cgroup/ tree (cgroupfs; vproc does not serve
# it; VPROC_LXCFS_CGROUPFS=1 runs them anyway, e.g. against lxcfs), test-cpusetrange is
# a unit test of LXCFS's own src/cpuset_parse.c (it never reads the mount),
# test_confinement.sh (with test-syscalls) is about cgroupfs and needs cgmanager, and
# main.sh does not run it. test_reload.sh swaps liblxcfs.so for a test build: it runs
# with ci/lxcfs-suite/test_reload.patch (see the comment there).
#
# Cgroups: on cgroup v1 and hybrid hosts the tests work below the cgroup of their own
# pid-namespace init (/proc/1/cgroup); each test is started inside
# <own cgroup>/vproc-test-lxcfs-suite-PID of the cpuset, memory and freezer controllers, so all
# the cgroups they make (lxcfs_test_proc, UUID.PID) are below that and are removed at
# the end. On a pure cgroup v2 host the tests hard-code the root cgroup
# (/sys/fs/cgroup/lxcfs_test_proc, /sys/fs/cgroup/UUID.PID): the script removes exactly
# the cgroups they made and restores the root's cgroup.subtree_control.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATCHDIR=$ROOT/ci/lxcfs-suite
BIN=${1:-$ROOT/target/release/vproc}
CACHE=${VPROC_CI_CACHE:-/var/cache/vproc-ci}/lxcfs-suite
WANT=${VPROC_LXCFS_VERSION:-5.0.3}
TEST_TIMEOUT=${VPROC_LXCFS_TEST_TIMEOUT:-300}
export CI=${CI:-true} DEBIAN_FRONTEND=noninteractive

# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"
die() { echo "lxcfs-suite: $*" >&2; summary_line 0 1 0; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (the tests make cgroups and mounts)"
[ -c /dev/fuse ] || die "/dev/fuse is missing"
[ -x "$BIN" ] || die "no executable binary at $BIN (cargo build --release first)"
BIN=$(realpath "$BIN")
BIN_NAME=$(basename "$BIN")

# --- tools --------------------------------------------------------------------------
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v patch >/dev/null || need+=(patch)
command -v unshare >/dev/null || need+=(util-linux)
command -v ps >/dev/null || need+=(procps)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "lxcfs-suite: installing ${need[*]}"
  apt_install "${need[@]}" || die "could not install ${need[*]}"
fi

# --- the source ---------------------------------------------------------------------
APT_DIR=$CACHE/apt
APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root"
  -o "Acquire::Retries=2")

apt_private_update() {
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  local key=/usr/share/keyrings/debian-archive-keyring.gpg s
  s="[signed-by=$key]"
  cat >"$APT_DIR/sources.list" <<EOF
deb-src $s http://deb.debian.org/debian bookworm main
deb-src $s http://deb.debian.org/debian bookworm-updates main
deb-src $s http://deb.debian.org/debian-security bookworm-security main
deb-src $s http://deb.debian.org/debian trixie main
EOF
  apt-get "${APT_OPTS[@]}" -qq update >"$APT_DIR/update.log" 2>&1
}

# $1: Debian version; extracts into $CACHE/lxcfs-<version>; prints the tree's path.
apt_fetch() {
  local ver=$1 dir=$CACHE/lxcfs-$1 tmp
  tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
  if (cd "$tmp" && apt-get "${APT_OPTS[@]}" -q source "lxcfs=$ver") >"$tmp.log" 2>&1 &&
    [ -d "$(echo "$tmp"/lxcfs-*/tests)" ]; then
    rm -rf "$dir" && mv "$(echo "$tmp"/lxcfs-*/)" "$dir" && rm -rf "$tmp" "$tmp.log"
    echo "$dir"
    return 0
  fi
  grep -E '^(E|W): ' "$tmp.log" | grep -v -e unsandboxed -e 'Failed to fetch some' | head -2 |
    tr '\n' ' ' >"$CACHE/fetch-error"
  rm -rf "$tmp" "$tmp.log"
  return 1
}

SRC='' SRC_NOTE=''
if [ -n "${VPROC_LXCFS_SRC:-}" ]; then
  SRC=$VPROC_LXCFS_SRC
  SRC_NOTE="lxcfs tests from $SRC (VPROC_LXCFS_SRC)"
else
  mkdir -p "$CACHE"
  cached=$(ls -d "$CACHE/lxcfs-$WANT"-*/tests 2>/dev/null | sort -V | tail -1)
  if [ -n "$cached" ]; then
    SRC=$(dirname "$cached")
    SRC_NOTE="lxcfs tests from Debian source ${SRC##*/lxcfs-} (cached in $CACHE)"
  elif apt_private_update; then
    versions=$(apt-cache "${APT_OPTS[@]}" showsrc lxcfs 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -uV)
    want_ver=$(grep "^$WANT-" <<<"$versions" | tail -1)
    why="the archive lists no lxcfs $WANT source"
    if [ -n "$want_ver" ]; then
      if SRC=$(apt_fetch "$want_ver"); then
        SRC_NOTE="lxcfs tests from Debian source $want_ver (apt-get source)"
      else
        why="apt-get source lxcfs=$want_ver failed: $(cat "$CACHE/fetch-error")"
      fi
    fi
    if [ -z "$SRC" ]; then
      # The newest the archive has, from the cache if fetched before.
      newest=$(tail -1 <<<"$versions")
      if [ -n "$newest" ] && [ -d "$CACHE/lxcfs-$newest/tests" ]; then
        SRC=$CACHE/lxcfs-$newest
      elif [ -n "$newest" ]; then
        SRC=$(apt_fetch "$newest") || SRC=
      fi
      [ -n "$SRC" ] || die "cannot fetch the lxcfs source: $why; newest ${newest:-none}: $(cat "$CACHE/fetch-error" 2>/dev/null)"
      SRC_NOTE="lxcfs tests from Debian source $newest instead of $WANT ($why)"
    fi
  else
    cached=$(ls -d "$CACHE"/lxcfs-*/tests 2>/dev/null | sort -V | tail -1)
    [ -n "$cached" ] || die "apt-get update (deb-src) failed and nothing is cached: $(tail -2 "$APT_DIR/update.log" | tr '\n' ' ')"
    SRC=$(dirname "$cached")
    SRC_NOTE="lxcfs tests from cached Debian source ${SRC##*/lxcfs-} (the archive could not be reached)"
  fi
fi
[ -d "$SRC/tests" ] || die "no tests/ in $SRC"

# --- scratch directory, helpers, rendered tests -------------------------------------
W=$(mktemp -d /tmp/vproc-lxcfs-suite.XXXXXX)
mkdir -p "$W/tests" "$W/tmp" "$W/logs" "$W/bin"
MNT=$W/lxcfs
PIDFILE=$W/lxcfs.pid
DAEMON=-1
CG_DIRS=()      # v1: our vproc-test-lxcfs-suite-PID directories
CG_TASKS=()     # v1: their tasks files
CG2_BEFORE=     # v2: root cgroup children before the tests
CG2_SUBTREE=    # v2: root cgroup.subtree_control before the tests

own_pids() {
  # Processes of the binary under test that this run started: the daemon, and any
  # whose command line names the scratch directory (test_reload.sh's own daemon).
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$BIN" ] || continue
    if [ "${p#/proc/}" = "$DAEMON" ] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$W"; then
      echo "${p#/proc/}"
    fi
  done
}

mounts_below() { awk -v w="$W" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

CURRENT=        # the test running now (its timeout process)
cleanup() {
  set +e
  if [ -n "$CURRENT" ]; then
    kill -TERM "$CURRENT" 2>/dev/null # timeout passes it on, and KILLs after 5 s
    wait "$CURRENT" 2>/dev/null
  fi
  if [ "$DAEMON" != -1 ] && kill -0 "$DAEMON" 2>/dev/null; then
    kill -TERM "$DAEMON" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DAEMON" 2>/dev/null
    wait "$DAEMON" 2>/dev/null
  fi
  local p
  for p in $(own_pids); do kill -KILL "$p" 2>/dev/null; done
  for m in $(mounts_below); do umount -l "$m" 2>/dev/null; done
  # cgroup v1: everything the tests made is below our directories.
  local d t
  for d in "${CG_DIRS[@]}"; do
    [ -d "$d" ] || continue
    for t in $(find "$d" -name tasks -exec cat {} + 2>/dev/null); do kill -KILL "$t" 2>/dev/null; done
    sleep 0.1
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$d" ] && echo "lxcfs-suite: warning: could not remove $d" >&2
  done
  cg2_cleanup
  # Safety net: a cgroup named after a UUID one of our tests used (their traces have
  # them) is ours wherever it is; the only fixed name, lxcfs_test_proc, is handled above.
  for u in $(cat "$W"/logs/*.log 2>/dev/null | grep -oE '^\+ (UUID|cg[12])=[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}' |
    sed 's/.*=//' | sort -u); do
    for d in $(find /sys/fs/cgroup -maxdepth 8 -type d -name "$u*" 2>/dev/null); do
      [ -d "$d" ] || continue
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
      echo "lxcfs-suite: note: removed the tests' stray cgroup $d" >&2
    done
  done
  rm -f /tmp/lxcfs-iwashere
  [ -z "$(mounts_below)" ] && rm -rf "$W"
}
trap cleanup EXIT
trap 'echo "lxcfs-suite: interrupted"; exit 130' INT TERM HUP

# cgroup v2 (pure): remove what the tests made at the root, restore subtree_control.
cg2_cleanup() {
  [ -n "$CG2_BEFORE" ] || return 0
  local d c
  for d in /sys/fs/cgroup/*/; do
    d=${d%/}
    grep -qxF "$d" <<<"$CG2_BEFORE" && continue
    case ${d##*/} in
      lxcfs_test_proc | ????????-????-????-????-????????????.[0-9]*) ;;
      *) continue ;;
    esac
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  for c in $(cat /sys/fs/cgroup/cgroup.subtree_control); do
    grep -qw -- "$c" <<<"$CG2_SUBTREE" || echo "-$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
  done
}

printf '#define _GNU_SOURCE 1\n#define _FILE_OFFSET_BITS 64\n' >"$W/config.h"
build() { gcc -O1 -w -I"$W" -I"$SRC/src" -o "$W/tests/$1" "${@:2}" >>"$W/logs/build.log" 2>&1; }
build test-read "$SRC/tests/test-read.c" || die "cannot build test-read: $(tail -3 "$W/logs/build.log")"
build test-syscalls "$SRC/tests/test_syscalls.c" || echo "lxcfs-suite: note: test-syscalls does not build (only test_confinement.sh uses it)"
build test-cpusetrange "$SRC/tests/cpusetrange.c" "$SRC/src/cpuset_parse.c" || echo "lxcfs-suite: note: test-cpusetrange does not build"

# The templates (meson renders them with jinja2; they use {{VAR}} only).
mkdir -p "$W/tmpl/tests"
cp "$SRC"/tests/*.in "$W/tmpl/tests/" 2>/dev/null || die "no tests/*.in templates in $SRC"
for p in "$PATCHDIR"/*.patch; do
  patch -s -d "$W/tmpl" -p1 <"$p" >>"$W/logs/patch.log" 2>&1 || PATCH_FAILED="${PATCH_FAILED:-} ${p##*/}"
done
for f in "$W"/tmpl/tests/*.in; do
  out=$W/tests/$(basename "$f" .in)
  # (RUNTIME_PATH and HAVE_FUSE_RETURNS_DT_TYPE: other lxcfs versions; fuse3 on
  # Debian 12 and later returns d_type.)
  sed -E -e "s|\{\{ *LXCFS_BUILD_ROOT *\}\}|$W|g" -e 's/\{\{ *LIBDIR *\}\}/usr\/lib/g' \
    -e 's/\{\{ *(DEFAULT_)?RUNTIME_PATH *\}\}/\/nonexistent-lxcfs-runtime/g' \
    -e 's/\{\{ *HAVE_FUSE_RETURNS_DT_TYPE *\}\}/1/g' "$f" >"$out"
  chmod +x "$out"
  grep -q '{{\|{%' "$out" && echo "lxcfs-suite: note: ${out##*/} has template syntax left: $(grep -o '{{[^}]*}}\|{%[^%]*%}' "$out" | sort -u | tr '\n' ' ')"
done

# uuidgen (Debian: uuid-runtime, the suite's test dependency) if the host lacks it.
if ! command -v uuidgen >/dev/null; then
  printf '#!/bin/sh\ncat /proc/sys/kernel/random/uuid\n' >"$W/bin/uuidgen"
  chmod +x "$W/bin/uuidgen"
fi
export PATH="$W/bin:$PATH" TMPDIR="$W/tmp" LXCFSDIR="$MNT" LXCFS_BIN="$BIN" DEBUG=1

# --- cgroups ------------------------------------------------------------------------
if grep -qF 'cgroup cgroup' /proc/1/mountinfo; then
  for c in cpuset memory freezer; do # the controllers the tests use
    [ -d "/sys/fs/cgroup/$c" ] || continue
    rel=$(awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
    base=/sys/fs/cgroup/$c${rel%/}
    d=$base/vproc-test-lxcfs-suite-$$
    mkdir "$d" || die "cannot create $d"
    CG_DIRS+=("$d")
    if [ "$c" = cpuset ]; then
      # Children copy cpus/mems (the autopkgtest sets this flag on the root cpuset).
      cat "$base/cpuset.cpus" >"$d/cpuset.cpus" && cat "$base/cpuset.mems" >"$d/cpuset.mems" &&
        echo 1 >"$d/cgroup.clone_children" || die "cannot set up $d"
    fi
    CG_TASKS+=("$d/tasks")
  done
else
  CG2_BEFORE=$(ls -d /sys/fs/cgroup/*/ 2>/dev/null | sed 's|/$||')
  CG2_SUBTREE=$(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)
fi

# --- the daemon ---------------------------------------------------------------------
FLAVOR=lxcfs
"$BIN" --version 2>&1 | grep -qi vproc && FLAVOR=vproc
DAEMON_ARGS=()
if [ "$FLAVOR" = lxcfs ] && "$BIN" --help 2>&1 | grep -q -- --enable-cgroup; then
  DAEMON_ARGS+=(--enable-cgroup) # what main.sh passes (LXCFS >= 6.0; 5.0 always has it)
fi
mkdir -p "$MNT"
: >"$PIDFILE"
echo "lxcfs-suite: $SRC_NOTE"
echo "lxcfs-suite: binary $BIN ($("$BIN" --version 2>&1 | head -1)); mount point $MNT"
"$BIN" "${DAEMON_ARGS[@]}" -p "$PIDFILE" "$MNT" >"$W/logs/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 50); do mountpoint -q "$MNT" && break; sleep 0.2; done
mountpoint -q "$MNT" || die "$BIN did not mount $MNT: $(tail -3 "$W/logs/daemon.log")"

# --- running ------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0

report() { # name status [detail]
  case $2 in
    passed) PASSED=$((PASSED + 1)); echo "$1: passed${3:+ ($3)}" ;;
    failed) FAILED=$((FAILED + 1)); echo "$1: failed${3:+ ($3)}" ;;
    skipped) SKIPPED=$((SKIPPED + 1)); echo "$1: skipped: $3" ;;
  esac
}

# name unshare(0|1) command... — the test runs with DEBUG=1 (set -x); on failure the
# tail of its trace shows the failing check.
run() {
  local name=$1 un=$2 log rc
  shift 2
  log=$W/logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_').log
  t0=$SECONDS
  # In the background and waited for, so that INT/TERM reach the trap at once.
  if [ "$un" = 1 ]; then
    (
      for t in "${CG_TASKS[@]}"; do echo "$BASHPID" >"$t" || exit 99; done
      cd "$W" && exec timeout -k 5 "$TEST_TIMEOUT" unshare -fmp --mount-proc "$@"
    ) </dev/null >"$log" 2>&1 &
  else
    (cd "$W" && exec timeout -k 5 "$TEST_TIMEOUT" "$@") </dev/null >"$log" 2>&1 &
  fi
  CURRENT=$!
  wait "$CURRENT"
  rc=$?
  CURRENT=
  if [ $rc = 0 ]; then
    report "$name" passed "$((SECONDS - t0)) s"
  else
    [ $rc = 124 ] && rc="timed out after ${TEST_TIMEOUT}s" || rc="exit $rc"
    report "$name" failed "$((SECONDS - t0)) s, $rc; last lines of its trace:"
    grep -v '^+ cleanup\|^+ \[ 0 = 1 \]\|^+ exit 1$\|^+ echo FAIL$' "$log" | tail -8 | sed 's/^/    | /'
  fi
}

skip_or_run() { # name reason-if-skipped unshare command...
  local name=$1 why=$2
  shift 2
  if [ -n "$why" ]; then report "$name" skipped "$why"; else run "$name" "$@"; fi
}

CGROUPFS_WHY="reads LXCFS's cgroup/ tree (cgroupfs), not a /proc or /sys file; vproc does not serve it (VPROC_LXCFS_CGROUPFS=1 runs it)"
[ "${VPROC_LXCFS_CGROUPFS:-0}" = 1 ] && CGROUPFS_WHY=

# Why a test of main.sh's list is not run (empty: it runs).
skip_reason() {
  case $1 in
    test_readdir | test_cgroup) echo "$CGROUPFS_WHY" ;;
    test-cpusetrange) echo "unit test of LXCFS's own src/cpuset_parse.c (cpu_in_cpuset), it never reads the mount" ;;
    test_reload.sh) [ -n "${PATCH_FAILED:-}" ] && echo "the ci/lxcfs-suite patch did not apply:$PATCH_FAILED" ;;
    *) [ -x "$W/tests/$1" ] || echo "main.sh names it but the source has no template or helper for it" ;;
  esac
}

# main.sh's list, in its order: "unshare(0|1) name" per line, from `RUNTEST ${dirname}/X`
# (`UNSHARE=0 RUNTEST` runs without unshare, as main.sh does).
TESTS=$(sed -n -E 's/^[[:space:]]*(UNSHARE=0 )?RUNTEST \$\{dirname\}\/([^[:space:]]+).*/\1 \2/p' "$W/tmpl/tests/main.sh.in" |
  awk '{ if (NF == 2) print 0, $2; else print 1, $1 }')
[ -n "$TESTS" ] || die "found no RUNTEST lines in tests/main.sh.in"
SIGUSR2_TEST=$(grep -qE 'kill -USR2 .*' "$W/tmpl/tests/main.sh.in" && echo test_sigusr2.sh)

# The tests main.sh runs; $1 prefixes the names, $2=1 in the first round (tests that
# start their own daemon, and the skips, are reported once).
runtests() {
  local pre=$1 first=$2 un name why label
  while read -r un name; do
    label=$name
    [ "$name" = test_reload.sh ] && label="test_reload.sh (with ci/lxcfs-suite/test_reload.patch)"
    why=$(skip_reason "$name")
    if [ "$first" != 1 ] && { [ -n "$why" ] || [ "$un" = 0 ]; }; then continue; fi
    if [ "$name" = "$SIGUSR2_TEST" ] && [ -z "$why" ]; then
      # main.sh: kill -USR2 (non-virtualisation mode), the test, kill -USR2 (back).
      kill -USR2 "$DAEMON"
      run "$pre$label" "$un" "$W/tests/$name"
      kill -USR2 "$DAEMON"
    else
      skip_or_run "$pre$label" "$why" "$un" "$W/tests/$name"
    fi
  done <<<"$TESTS"
  # main.sh: "Check for any defunct processes - children we didn't reap"
  # (`ps -ef | grep lxcfs | grep defunct`), limited to the children of the daemons this
  # run started: another vproc or lxcfs on the machine is not under test.
  local z parents
  parents=" $(own_pids | tr '\n' ' ') "
  z=$(ps -eo pid=,ppid=,stat=,args= | awk -v p="$parents" '$3 ~ /Z/ && index(p, " " $2 " ")')
  if [ -z "$z" ]; then report "${pre}main.sh: no defunct $BIN_NAME processes" passed; else
    report "${pre}main.sh: no defunct $BIN_NAME processes" failed "$(wc -l <<<"$z") defunct children of $DAEMON"
    sed 's/^/    | /' <<<"$z"
  fi
}

runtests "" 1

# live-upgrade-test.sh: the same tests after SIGUSR1 (LXCFS reloads liblxcfs, here the
# installed one: the swap to a second build tree's liblxcfstest.so and its marker file
# are LXCFS-only; vproc upgrades to the binary on disk).
cat >"$W/tests/after-sigusr1.sh" <<EOF
#!/bin/sh
set -eux
cat $MNT/proc/uptime
kill -USR1 $DAEMON
sleep 1
cat $MNT/proc/uptime
sleep 1
kill -0 $DAEMON
mountpoint -q $MNT
cat $MNT/proc/uptime
EOF
chmod +x "$W/tests/after-sigusr1.sh"
run "live-upgrade-test.sh: functional after SIGUSR1" 0 "$W/tests/after-sigusr1.sh"
runtests "live-upgrade-test.sh, after SIGUSR1: " 0

if [ -e "$W/tests/test_confinement.sh" ]; then
  report "test_confinement.sh (+ test-syscalls)" skipped \
    "cgroupfs confinement (cgroup/ tree) via cgmanager's cgm; main.sh does not run it"
fi
[ -n "${PATCH_FAILED:-}" ] && echo "lxcfs-suite: note: patch failed:$PATCH_FAILED ($(tail -2 "$W/logs/patch.log" | tr '\n' ' '))"

[ "${VPROC_LXCFS_KEEP_LOGS:-}" ] && cp -r "$W/logs" "$VPROC_LXCFS_KEEP_LOGS"
summary_line "$PASSED" "$FAILED" "$SKIPPED"
[ "$FAILED" = 0 ]
