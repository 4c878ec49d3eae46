#!/usr/bin/env bash
# Each shoal-chaos check fails when it should: every tests/chaos/planted/fails-CHECK.json is
# built to break CHECK, and the run must exit 1 with CHECK's verdict "fail" in report.json.
# Then one passing run's HTML report must parse as XML, name every check and fault, and
# carry the SVG timeline. Runs in the simulator: no root needed.
set -euo pipefail
chaos=${1:?usage: planted_test.sh PATH/TO/shoal-chaos}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/shoal-chaos-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

verdict_of() {  # verdict_of REPORT.json CHECK
  jq -r --arg c "$2" '[.checks[] | select(.check == $c) | .verdict] | first // "missing"' "$1" \
    2>/dev/null || echo "no report"
}

for file in "$here"/planted/fails-*.json; do
  check=$(basename "$file" .json)
  check=${check#fails-}
  out=$work/$check
  status=0
  "$chaos" run "$file" --sim --out "$out" >"$out.txt" 2>&1 || status=$?
  verdict=$(verdict_of "$out/report.json" "$check")
  if [[ $status -eq 1 && $verdict == fail ]]; then
    echo "ok: $check fails on $(basename "$file")"
  else
    echo "FAIL: $(basename "$file") should fail $check (exit $status, verdict $verdict):" >&2
    cat "$out.txt" >&2
    failures=$((failures + 1))
  fi
done

# The HTML report of a passing run: well-formed, every check and fault named, its curves and
# host rows present.
out=$work/html
"$chaos" run "$root/chaos/scenarios/flapping-link.json" --sim --short --out "$out" >/dev/null
python3 "$here/check_report_html.py" "$out/report.html" "$out/report.json" || failures=$((failures + 1))
exit $((failures > 0))
