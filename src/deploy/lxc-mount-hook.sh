#!/bin/sh
# vproc's LXC/Incus mount hook: bind the per-container views vproc serves over the
# container's own files. Works without the lxcfs package (LXCFS's hook does the same
# for its files). Config: lxc.hook.mount = <this file>; also with lxc.mount.auto
# "proc:mixed sys:mixed" (the container's /proc and /sys exist when mount hooks run).
# Only files present both in vproc's tree and in the container are bound, so a kernel
# without PSI (no /proc/pressure) or an older vproc is fine.
VPROC_DIR="${VPROC_DIR:-@MOUNTPOINT@}"
[ -n "${LXC_ROOTFS_MOUNT}" ] || { echo "vproc hook: LXC_ROOTFS_MOUNT is not set" >&2; exit 1; }
# No vproc mounted: the container starts with the kernel's files.
[ -d "${VPROC_DIR}/proc" ] || exit 0
for rel in @FILES@; do
    src="${VPROC_DIR}/${rel}"
    dst="${LXC_ROOTFS_MOUNT}/${rel}"
    [ -e "${src}" ] && [ -e "${dst}" ] || continue
    mount -n --bind "${src}" "${dst}" || echo "vproc hook: cannot bind ${rel}" >&2
done
if [ -d "${VPROC_DIR}/sys/devices/system/cpu" ] && [ -d "${LXC_ROOTFS_MOUNT}/sys/devices/system/cpu" ]; then
    mount -n --bind "${VPROC_DIR}/sys/devices/system/cpu" "${LXC_ROOTFS_MOUNT}/sys/devices/system/cpu"
fi
exit 0
