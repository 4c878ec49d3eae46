#!/usr/bin/env bash
# bench/nat.sh: gossip across NAT routers, measured on the four sites of issue 20
# (tests/e2e/nat_sites.sh: a public host, two cone NATs, a symmetric one; real Linux conntrack
# masquerade in namespaces). The 5 agents start at one instant (a start gate).
#
# Figures (other lines start with '#'):
#   gossip_reach_s           s    from the start until every agent lists all 5 alive and each
#                                 knows where it stands (its `nat:` line is settled)
#   paths_s                  s    from the start until the paths are what the NATs allow: cone
#                                 to cone punched both ways, the symmetric site relayed
#   remap_recovery_s         s    NAT 1 restarts with other ports: until its hosts advertise the
#                                 new ones and every agent lists all 5 alive again
#   keepalive_bytes_per_min  B    gossip bytes a host behind NAT sends to hold its mapping open
#                                 (pings to its relays), per minute, mean over h2..h5
#   relay_probes_per_min     1    indirect probes the public host ran for the others
# Not measured yet: pod reachability and tunnel throughput across NATs (the udp tunnel does not
# follow gossip's paths yet, docs/sites.md), so no first_reach_s, no punched or relayed
# throughput ratios, and no side-by-side nebula run.
# Environment: WINDOW_S (60): how long the keepalive and relay load are counted.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$root/tests/e2e/cluster.sh"
# shellcheck source=tests/e2e/nat_sites.sh
source "$root/tests/e2e/nat_sites.sh"
require_root nat
shoal=$root/build/release/cli/shoal
window_s=${WINDOW_S:-60}
[[ $window_s =~ ^[0-9]+$ ]] && ((window_s >= 10)) || {
  echo "nat: WINDOW_S must be a whole number of seconds, 10 or more, not '$window_s'" >&2
  exit 2
}

work=$(mktemp -d /tmp/shoal-bench-nat-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
nat_sites_setup "bn$$"
since() { us_to_secs $(($(now_us) - $1)); }

settled() { local i; for i in 1 2 3 4 5; do [[ -n $(nat_line "$i") && $(nat_line "$i") != "not known"* ]] || return 1; done; }
reached() { all_alive && settled; }
paths_as_allowed() {
  [[ $(path_of 2 h4) == punched && $(path_of 4 h2) == punched && $(path_of 3 h4) == punched ]] &&
    [[ $(path_of 2 h5) == relayed && $(path_of 4 h5) == relayed ]]
}

netns_gate_close
nat_sites_start --gate
netns_gate_open 10
start=$NETNS_GATE_OPENED_US
WAIT_INTERVAL=0.1 wait_until 60 reached || { echo "# the agents did not all reach each other in 60 s"; exit 1; }
echo "figure gossip_reach_s $(since "$start") s"
WAIT_INTERVAL=0.1 wait_until 60 paths_as_allowed || { echo "# the paths did not settle in 60 s"; exit 1; }
echo "figure paths_s $(since "$start") s"
for i in 1 2 3 4 5; do echo "# h$i: $(nat_line "$i")"; done

declare -A kb0
for i in 2 3 4 5; do kb0[$i]=$(netns_metric "$i" 9100 shoal_keepalive_bytes_total); done
relay0=$(netns_metric 1 9100 shoal_relayed_probes_total)
echo "# counting keepalives and relay load for $window_s s"
sleep "$window_s"  # a measurement window, not a wait for something to happen
sum=0
for i in 2 3 4 5; do sum=$((sum + $(netns_metric "$i" 9100 shoal_keepalive_bytes_total) - kb0[$i])); done
echo "figure keepalive_bytes_per_min $((sum * 60 / window_s / 4)) B"
echo "figure relay_probes_per_min $((($(netns_metric 1 9100 shoal_relayed_probes_total) - relay0) * 60 / window_s)) 1"

before=$(nat_line 2)
remapped=$(now_us)
nat_sites_remap 1 || { echo "# could not restart NAT 1"; exit 1; }
moved() {
  [[ $(nat_line 2) == "reachable at 203.0.113.101:400"* && $(nat_line 3) == "reachable at 203.0.113.101:400"* ]] && all_alive
}
WAIT_INTERVAL=0.1 wait_until 60 moved || { echo "# NAT 1's hosts did not recover in 60 s"; exit 1; }
echo "figure remap_recovery_s $(since "$remapped") s"
echo "# h2: $before -> $(nat_line 2); members declared dead in all: $(declared_dead)"
