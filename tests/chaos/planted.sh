# shellcheck shell=bash
# The verdict of a planted run, for planted_test.sh (simulator) and planted_netns_test.sh
# (namespaces). A file tests/chaos/planted/.../fails-A+B.json is built to break checks A and B:
# planted_verdict NAME STATUS OUT passes (prints "ok", returns 0) when the run exited 1 and
# OUT/report.json has exactly A and B failing, every other check passing or skipped; else it
# prints what failed, and the run's output OUT.txt, and returns 1.
planted_verdict() {
  local name=$1 status=$2 out=$3 expected failed
  expected=$(tr '+' '\n' <<<"${name#fails-}" | sort)
  failed=$(jq -r '.checks[] | select(.verdict == "fail") | .check' "$out/report.json" 2>/dev/null |
    sort || echo "no report")
  if [[ $status -eq 1 && $failed == "$expected" ]]; then
    echo "ok: $name fails $(tr '\n' ' ' <<<"$failed")and nothing else"
    return 0
  fi
  echo "FAIL: $name should fail exactly $(tr '\n' ' ' <<<"$expected")(exit $status," \
    "failed: $(tr '\n' ' ' <<<"$failed")):" >&2
  cat "$out.txt" >&2
  return 1
}
