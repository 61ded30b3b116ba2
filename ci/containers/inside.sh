#!/bin/sh
# Runs INSIDE a container (POSIX sh; procps, coreutils, mawk from the minbase rootfs):
# prints what the container's processes see, one key=value per line, for the host side
# (check_seen in lib.sh) to compare with the container's cgroup.
kv() { printf '%s=%s\n' "$1" "$2"; }
kv memtotal "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
kv swaptotal "$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)"
f=$(free -m)
kv free_mem "$(printf '%s\n' "$f" | awk '/^Mem:/ { print $2 }')"
kv free_swap "$(printf '%s\n' "$f" | awk '/^Swap:/ { print $2 }')"
kv nproc "$(nproc)"
kv getconf "$(getconf _NPROCESSORS_ONLN)"
kv online "$(cat /sys/devices/system/cpu/online)"
kv cpuinfo "$(grep -c '^processor' /proc/cpuinfo)"
kv statcpus "$(grep -c '^cpu[0-9]' /proc/stat)"
kv uptime "$(cut -d' ' -f1 /proc/uptime)"
kv pidns "$(readlink /proc/self/ns/pid)"
# Which of the files vproc can serve are on a FUSE file system here (what a process
# actually opens: a bind mount hidden by a later mount does not count).
fuse=
for p in /proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /proc/diskstats /proc/swaps \
  /proc/loadavg /proc/slabinfo /proc/pressure/cpu /proc/pressure/memory /proc/pressure/io \
  /sys/devices/system/cpu/online; do
  case $(stat -f -c %T "$p" 2>/dev/null) in fuse*) fuse="$fuse $p" ;; esac
done
kv fuse "${fuse# }"
t=$(TERM=dumb top -bn1 | head -n 5)
kv top_up "$(printf '%s\n' "$t" | sed -n 1p)"
kv top_mem "$(printf '%s\n' "$t" | grep 'Mem :')"
kv top_swap "$(printf '%s\n' "$t" | grep 'Swap:')"
