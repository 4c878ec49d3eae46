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
  python3 - "$1" "$2" <<'PY' || echo "no report"
import json, sys
report = json.load(open(sys.argv[1]))
print(next((c["verdict"] for c in report["checks"] if c["check"] == sys.argv[2]), "missing"))
PY
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

# The HTML report of a passing run: well-formed, every check and fault named, SVG present.
out=$work/html
"$chaos" run "$root/chaos/scenarios/flapping-link.json" --sim --short --out "$out" >/dev/null
python3 - "$out/report.html" "$out/report.json" <<'PY' || failures=$((failures + 1))
import json, sys
import xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])  # raises on anything not well-formed
report = json.load(open(sys.argv[2]))
text = ET.tostring(tree.getroot(), encoding="unicode")
svgs = [e for e in tree.iter() if e.tag.endswith("svg")]
assert svgs, "no SVG timeline"
bands = [e for e in svgs[0].iter() if e.tag.endswith("rect") and e.get("class") == "fault"]
assert len(bands) == len(report["faults"]) > 0, "a fault band per fault"
for check in report["checks"]:
    assert check["check"] in text, "check %s not named" % check["check"]
for fault in report["faults"]:
    assert fault["what"].replace("&", "&amp;") in text or fault["what"] in text, fault["what"]
print("ok: report.html parses, names %d checks and %d faults, SVG present"
      % (len(report["checks"]), len(report["faults"])))
PY
exit $((failures > 0))
