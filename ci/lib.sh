# Shared by the CI scripts (source it). One place that turns `cargo test` output into
# counts: passed, failed, and skipped — real-kernel tests that could not run here report
# themselves in $VPROC_SKIP_LOG (testkit::real::skipped), and are not counted as passed.

# test_counts LOG SKIPLOG → prints "passed failed skipped"
test_counts() {
  local log=$1 skiplog=$2 p f s
  read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
                        END { print p + 0, f + 0 }' "$log")
  s=0
  [ -s "$skiplog" ] && s=$(sort -u "$skiplog" | wc -l)
  echo "$((p - s)) $f $s"
}

# summary_line PASSED FAILED SKIPPED → the line .ci/run adds up
summary_line() {
  echo "$1 passed, $2 failed, $3 skipped"
}
