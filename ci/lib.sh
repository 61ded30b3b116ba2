# shellcheck shell=bash
# Shared by the CI scripts (source it). One place that turns `cargo test` output into
# counts: passed, failed, and skipped — real-kernel tests that could not run here report
# themselves in $VPROC_SKIP_LOG (testkit::real::skipped), and are not counted as passed.

# test_counts LOG SKIPLOG → prints "passed failed skipped"
test_counts() {
  local log=$1 skiplog=$2 p f s
  read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
                        END { print p + 0, f + 0 }' "$log")
  s=0
  [ -s "$skiplog" ] && s=$(sort -u "$skiplog" | grep -c .)
  echo "$((p - s)) $f $s"
}

# summary_line PASSED FAILED SKIPPED → the line .ci/run adds up
summary_line() {
  echo "$1 passed, $2 failed, $3 skipped"
}

# apt_install PKG...: install Debian packages, quietly; apt's output (its last lines) on
# stderr only when it fails, and a non-zero status then.
apt_install() {
  local out
  out=$({ apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } 2>&1) ||
    { tail -n 5 <<<"$out" >&2; return 1; }
}
