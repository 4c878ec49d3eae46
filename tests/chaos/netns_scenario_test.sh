#!/usr/bin/env bash
# One shipped scenario, in its short form, on network namespaces with real agents and pods:
#   netns_scenario_test.sh PATH/TO/shoal-chaos PATH/TO/shoal SCENARIO.json
# Passes when shoal-chaos passes every check. On a failure it shows the report; shoal-chaos
# keeps the agents' logs and says where. shoal-chaos removes every namespace, device and
# agent it made, also when it fails or is interrupted.
set -euo pipefail
chaos=${1:?usage: netns_scenario_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
shoal=${2:?usage: netns_scenario_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
scenario=${3:?usage: netns_scenario_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
name=$(basename "$scenario" .json)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: e2e.chaos.$name: needs root (network namespaces)"
  exit 77
fi
for tool in ip nft; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/setup installs it)"; exit 1; }
done
out=$(mktemp -d /tmp/shoal-chaos-e2e-XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0
# Its namespaces are named sc<PID>-..., and only those are its own to check (another run may
# be going on beside it): the PID is written down before exec, in the foreground, so that
# Ctrl-C still reaches it.
sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$out/pid" \
  "$chaos" run "$scenario" --short --shoal "$shoal" --out "$out" || status=$?
run=$(cat "$out/pid")
if [[ $status -ne 0 ]]; then
  echo "FAIL: e2e.chaos.$name: shoal-chaos exited $status"
  exit 1
fi
left=$(ip netns list | grep "^sc$run-" || true)
if [[ -n $left ]]; then
  echo "FAIL: e2e.chaos.$name: namespaces left behind: $(head -3 <<<"$left")"
  exit 1
fi
