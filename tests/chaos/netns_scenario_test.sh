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
"$chaos" run "$scenario" --short --shoal "$shoal" --out "$out" || status=$?
if [[ $status -ne 0 ]]; then
  echo "FAIL: e2e.chaos.$name: shoal-chaos exited $status"
  exit 1
fi
left=$(ip netns list | grep -c "^sc[0-9]" || true)
if [[ $left -ne 0 ]]; then
  echo "FAIL: e2e.chaos.$name: namespaces left behind: $(ip netns list | grep '^sc[0-9]' | head -3)"
  exit 1
fi
