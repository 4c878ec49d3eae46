#!/usr/bin/env bash
# The checks that only namespaces make (pods_reach, databases_open, workload) fail when they
# should: every tests/chaos/planted/netns/fails-A+B.json breaks checks A and B on real agents
# and pods, and the run must exit 1 with exactly those verdicts "fail": every other check
# passes or is skipped, so the plant, not something else, is what broke them. Root only.
set -euo pipefail
chaos=${1:?usage: planted_netns_test.sh SHOAL-CHAOS SHOAL}
shoal=${2:?usage: planted_netns_test.sh SHOAL-CHAOS SHOAL}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: e2e.chaos.planted: needs root (network namespaces)"
  exit 77
fi
work=$(mktemp -d /tmp/shoal-chaos-planted-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
# shellcheck source=tests/chaos/planted.sh
source "$here/planted.sh"

for file in "$here"/planted/netns/fails-*.json; do
  name=$(basename "$file" .json)
  out=$work/$name
  status=0
  # --work inside $work: a failed run keeps its work directory, and this test removes it.
  # Its namespaces are sc<PID>-...: the PID is written down before exec, in the foreground.
  sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$out.pid" \
    "$chaos" run "$file" --shoal "$shoal" --work "$out.work" --out "$out" >"$out.txt" 2>&1 ||
    status=$?
  run=$(cat "$out.pid")
  left=$(ip netns list | grep "^sc$run-" || true)  # its own, named by its PID
  if [[ -n $left ]]; then
    echo "FAIL: $name left namespaces behind: $(head -3 <<<"$left")" >&2
    failures=$((failures + 1))
  fi
  if planted_verdict "$name" "$status" "$out"; then
    # A report of real pods: its page carries the third curve, pods reaching pods.
    python3 "$here/check_report_html.py" "$out/report.html" "$out/report.json" ||
      failures=$((failures + 1))
  else
    failures=$((failures + 1))
  fi
done
exit $((failures > 0))
