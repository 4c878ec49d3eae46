#!/usr/bin/env bash
# Each shoal-chaos check fails when it should: every tests/chaos/planted/fails-A+B.json is
# built to break checks A and B (one, mostly), and the run must exit 1 with exactly those
# verdicts "fail" in report.json: every other check passes or is skipped, so the plant is
# what broke them. The overlap plant's scenario without the plant must pass whole. Then one
# passing run's HTML report must parse as XML, name every check and fault, and carry the SVG
# timeline. Runs in the simulator: no root needed.
set -euo pipefail
chaos=${1:?usage: planted_test.sh PATH/TO/shoal-chaos}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/shoal-chaos-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
# shellcheck source=tests/chaos/planted.sh
source "$here/planted.sh"

for file in "$here"/planted/fails-*.json; do
  name=$(basename "$file" .json)
  out=$work/$name
  status=0
  "$chaos" run "$file" --sim --out "$out" >"$out.txt" 2>&1 || status=$?
  planted_verdict "$name" "$status" "$out" || failures=$((failures + 1))
done

# The overlap is the plant's doing: the same split and newcomers without it pass every check.
jq 'del(.topology.planted_bug)' "$here/planted/fails-no_overlap+converge_within.json" >"$work/unplanted.json"
if "$chaos" run "$work/unplanted.json" --sim >"$work/unplanted.txt" 2>&1; then
  echo "ok: without the plant the same scenario passes"
else
  echo "FAIL: without keep-lost-subnet the overlap scenario should pass:" >&2
  cat "$work/unplanted.txt" >&2
  failures=$((failures + 1))
fi

# The HTML report of a passing run: well-formed, every check and fault named, its curves and
# host rows present.
out=$work/html
"$chaos" run "$root/chaos/scenarios/flapping-link.json" --sim --short --out "$out" >/dev/null
python3 "$here/check_report_html.py" "$out/report.html" "$out/report.json" || failures=$((failures + 1))
exit $((failures > 0))
