#!/usr/bin/env bash
# Installs what the tests use beyond Rust, so that nothing they check is skipped on a
# fresh Debian machine:
#   lxcfs, fuse3            the reference daemon of the differential tests
#   procps sysstat util-linux python3-psutil nodejs default-jre-headless
#                           the programs tests/programs.rs runs in containers
#   systemd                 systemd-analyze (tests/deploy.rs verifies the unit)
#   python3-yaml groff-base tests/deploy.rs: manifest structure, manual pages
#   python3-venv            a venv with PyPI's kubernetes-validate (the manifests' schema
#                           check, offline), kept in $VPROC_CI_CACHE (printed on stdout as
#                           VPROC_K8S_VALIDATE=... for the caller to export)
# Idempotent and quiet: calls apt only for what is missing, does nothing unless root on
# a machine with apt-get. Every test skips loudly what it cannot find.
set -euo pipefail

cache=${VPROC_CI_CACHE:-/var/cache/vproc-ci}
validator=$cache/k8s-venv/bin/kubernetes-validate

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: not root or no apt-get; nothing installed (tests skip what is missing)" >&2
  [ -x "$validator" ] && echo "VPROC_K8S_VALIDATE=$validator"
  exit 0
fi

missing=()
need() { # need PACKAGE CHECK...: PACKAGE unless the check succeeds
  local pkg=$1; shift
  "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
have() { for c in "$@"; do command -v "$c" || return 1; done; }
need lxcfs have lxcfs
need fuse3 have fusermount3
need procps have free top vmstat uptime ps
need sysstat have mpstat
need util-linux have lscpu
need python3-psutil /usr/bin/python3 -c 'import psutil'
need python3-yaml /usr/bin/python3 -c 'import yaml'
need python3-venv /usr/bin/python3 -c 'import ensurepip'
need nodejs have node
need default-jre-headless have java
need systemd have systemd-analyze
need groff-base have groff

# shellcheck source=ci/lib.sh
. "$(dirname "$0")/lib.sh"
# Quiet, but show the output of a command that fails.
quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  apt_install "${missing[@]}"
fi

if [ ! -x "$validator" ]; then
  echo "deps: installing kubernetes-validate into $cache/k8s-venv" >&2
  mkdir -p "$cache"
  if ! { quiet python3 -m venv "$cache/k8s-venv" &&
         quiet "$cache/k8s-venv/bin/pip" install -q kubernetes-validate; }; then
    echo "deps: kubernetes-validate could not be installed; the schema check will skip" >&2
  fi
fi
[ -x "$validator" ] && echo "VPROC_K8S_VALIDATE=$validator"
exit 0
