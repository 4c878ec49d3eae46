#!/usr/bin/env bash
# e2e.chaos.cluster: shoal-chaos against a cluster it did not start (--cluster FILE).
#   usage: tests/chaos/cluster_test.sh PATH/TO/shoal-chaos PATH/TO/shoal
# Four agents are started here, by bash (tests/e2e/cluster.sh), with AllowFaults, in network
# namespaces; the cluster file reaches each through `ip netns exec`, as ssh would reach a real
# host. The harness runs a scenario of link faults (a partition, a one-way cut, loss) and a
# clock moved back, through `shoal fault`, and must pass; afterwards no fault is left on any
# host. It must also refuse a fault it cannot make on a real cluster (exit 2) and name a host
# it cannot reach (exit 3).
# Underlay 192.0.2.0/24, overlay 198.18.0.0/16; everything is removed on exit (trap).
set -euo pipefail
here=$(cd "$(dirname "$0")/../e2e" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.chaos.cluster"
need_packages jq nftables
chaos=$(realpath "${1:?usage: $0 PATH/TO/shoal-chaos PATH/TO/shoal}")
shoal=$(realpath "${2:?usage: $0 PATH/TO/shoal-chaos PATH/TO/shoal}")
work=$(mktemp -d /tmp/shoal-chaos-cluster.XXXXXX)
netns_at_cleanup "rm -rf $work"

netns_setup "cc$$" 4
for i in 1 2 3 4; do start_agent "$i" --allow-faults true; done
wait_until 60 all_alive 4 1 2 3 4 || fail "the 4 agents did not all see 4 alive members"
wait_until 30 settled 1 2 3 4 || fail "the agents did not probe each other"

# The names are the agents' own (h1..h4 here); exec reaches each host.
hosts=""
for i in 1 2 3 4; do
  hosts+="${hosts:+,}{\"name\": \"h$i\", \"exec\": [\"ip\", \"netns\", \"exec\", \"$(netns_name "$i")\"],"
  hosts+=" \"control_socket\": \"$work/h$i/shoal.sock\"}"
done
echo "{\"hosts\": [$hosts], \"shoal\": \"$shoal\"}" >"$work/cluster.json"
cat >"$work/links.json" <<'JSON'
{
  "name": "cluster-links",
  "summary": "Faults on a running cluster: h3's clock 90 s behind throughout, halves apart, then h1's outbound path broken, then loss at h4 and on the link between h1 and h2.",
  "seed": 1,
  "topology": {"hosts": 4},
  "duration_s": 36,
  "timeline": [
    {"at_s": 4, "fault": "partition", "shape": "halves", "for_s": 8},
    {"at_s": 17, "fault": "one-way", "from": "h1", "to": "others", "for_s": 6},
    {"at_s": 28, "fault": "loss", "percent": 20, "hosts": "h4", "for_s": 4},
    {"at_s": 28, "fault": "loss", "percent": 30, "from": "h1", "to": "h2", "for_s": 4},
    {"at_s": 2, "fault": "clock", "hosts": "h3", "offset_s": -90, "for_s": 30}
  ],
  "checks": {"converge_within_s": 15, "max_renumbered": 0}
}
JSON

step "1. the scenario on the running cluster"
status=0
"$chaos" run "$work/links.json" --cluster "$work/cluster.json" --verbose --out "$work/report" \
  >"$work/run.out" 2>"$work/run.err" || status=$?
cat "$work/run.out"
[[ $status == 0 ]] || { cat "$work/run.err"; fail "shoal-chaos --cluster exited $status"; }
grep -q "h1: fault 1: dropping packets to h3, h4" "$work/run.err" || fail "the partition was not put on h1"
grep -q "h3: fault 1: this host's wall clock moved -90 s" "$work/run.err" || fail "h3's clock was not moved"
jq -e '.mode == "cluster"' "$work/report/report.json" >/dev/null || fail "the report does not say cluster"
jq -e '[.recoveries[]] | length >= 3' "$work/report/report.json" >/dev/null || fail "fewer than 3 recoveries timed"
for i in 1 2 3 4; do
  [[ $(ctl "$i" fault list --json | jq '.faults | length') == 0 ]] || fail "h$i still has a fault on"
  netns_exec "$i" nft list table inet shoal_faults >/dev/null 2>&1 && fail "h$i still has the fault table"
done
step "   passed; every recovery timed; no fault left on any host"

step "2. interrupted: a SIGINT (Ctrl-C) ends the run and clears every fault it put on"
cat >"$work/long.json" <<'JSON'
{"name": "cluster-long-cut", "topology": {"hosts": 4}, "duration_s": 120,
 "timeline": [{"at_s": 1, "fault": "partition", "shape": "halves", "for_s": 100}]}
JSON
"$chaos" run "$work/long.json" --cluster "$work/cluster.json" >"$work/long.out" 2>&1 &
run=$!
faults_on() { [[ $(ctl 1 fault list --json | jq '.faults | length') -gt 0 ]]; }
wait_until 20 faults_on || { kill -TERM "$run" 2>/dev/null; fail "the long cut never reached h1"; }
kill -INT "$run"
status=0
wait "$run" || status=$?
[[ $status == 130 ]] || { cat "$work/long.out"; fail "an interrupted --cluster run exited $status, not 130"; }
for i in 1 2 3 4; do
  [[ $(ctl "$i" fault list --json | jq '.faults | length') == 0 ]] ||
    fail "h$i still has a fault on after the interrupt (it would have lasted 100 s)"
done
step "   exit 130; no fault left on any host, 99 s before they would have expired"

step "3. refusals"
sed 's/"fault": "loss", "percent": 20, "hosts": "h4"/"fault": "crash", "hosts": "h4"/' "$work/links.json" >"$work/crash.json"
status=0
"$chaos" run "$work/crash.json" --cluster "$work/cluster.json" 2>"$work/crash.err" || status=$?
[[ $status == 2 ]] && grep -q "only what \`shoal fault\` does runs" "$work/crash.err" || fail "a crash fault was not refused (exit $status)"
sed "s|$work/h2/shoal.sock|$work/nowhere.sock|" "$work/cluster.json" >"$work/broken.json"
status=0
"$chaos" run "$work/links.json" --cluster "$work/broken.json" 2>"$work/broken.err" || status=$?
[[ $status == 3 ]] && grep -q "h2 (h2)" "$work/broken.err" || { cat "$work/broken.err"; fail "an unreachable host was not named (exit $status)"; }
step "   a crash fault: exit 2; an unreachable h2: exit 3, named"
step "PASS"
