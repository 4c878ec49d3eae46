#!/usr/bin/env bash
# bench/nat.sh: gossip and the udp tunnel across NAT routers, measured on the four sites of
# issue 20 (tests/e2e/nat_sites.sh: a public host h1, h2 and h3 behind cone NAT 1, h4 behind
# cone NAT 2, h5 behind a symmetric NAT; real Linux conntrack masquerade in namespaces). The 5
# agents run Backend udp, Encrypt true, every setting at its default, one pod each, and start
# at one instant (a start gate).
#
# Figures (other lines start with '#'):
#   gossip_reach_s           s    from the start until every agent lists all 5 alive and each
#                                 knows where it stands (its `nat:` line is settled)
#   paths_s                  s    from the start until the paths are what the NATs allow: cone
#                                 to cone punched both ways, the symmetric site relayed
#   gossip_remap_recovery_s  s    NAT 1 restarts with other ports: until its hosts advertise the
#                                 new ones and every agent lists all 5 alive again
#   keepalive_bytes_per_min  B    gossip bytes a host behind NAT sends to hold its mapping open
#                                 (pings to its relays), per minute, mean over h2..h5
#   relay_probes_per_min     1    indirect probes the public host ran for the others
#   first_reach_s            s    from the start until every pod pings every other pod (through
#                                 LAN, punched holes and the relay); includes subnet allocation
#                                 and attaching the pods (issue 20's target: 6 s)
#   reach_after_ready_s      s    from the moment every host holds its subnet and its pod is
#                                 attached until full reachability (target: 1.5 s)
#   tput.direct.p1           Gbit/s  iperf3 pod to pod, one stream, h2 -> h3: the tunnel's
#                                 direct path with no NAT (NAT 1's LAN)
#   tput.punched.p1          Gbit/s  h2 -> h4, through both cone NATs' punched holes
#   tput.relayed.p1          Gbit/s  h5 -> h2, through h1 as the relay
#   ratio.punched_routed.p1  1    punched / direct (target 0.9)
#   ratio.relayed_direct.p1  1    relayed / direct (target 0.5)
#   remap_recovery_s         s    NAT 1 restarts with other ports while h2's pod pings h4's ten
#                                 times a second: the longest time without a reply (target 5 s)
# Not measured: a side-by-side nebula through the same NATs (it needs a lighthouse configured
# by hand; bench/udp_tunnel.sh compares the tunnels on one segment).
# Environment: WINDOW_S (60): how long the keepalive and relay load are counted;
# IPERF_S (5): seconds per iperf3 run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
# shellcheck source=tests/e2e/pods.sh
source "$root/tests/e2e/pods.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$root/tests/e2e/cluster.sh"
# shellcheck source=tests/e2e/nat_sites.sh
source "$root/tests/e2e/nat_sites.sh"
require_root nat
shoal=$root/build/release/cli/shoal
window_s=${WINDOW_S:-60}
iperf_s=${IPERF_S:-5}
[[ $iperf_s =~ ^[0-9]+$ ]] && ((iperf_s >= 1 && iperf_s <= 120)) || {
  echo "nat: IPERF_S must be a whole number of seconds from 1 to 120, not '$iperf_s'" >&2
  exit 2
}
[[ $window_s =~ ^[0-9]+$ ]] && ((window_s >= 10)) || {
  echo "nat: WINDOW_S must be a whole number of seconds, 10 or more, not '$window_s'" >&2
  exit 2
}

work=$(mktemp -d /tmp/shoal-bench-nat-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
need_packages iperf3 containernetworking-plugins iputils-ping
nat_sites_setup "bn$$"
nat_sites_udp 25
mkdir -p "$work/cni"
# shellcheck disable=SC2034 # add_pods reads it
pods=(1)
since() { us_to_secs $(($(now_us) - $1)); }

# nat_lines_known: every agent knows where it stands behind (or in front of) its NAT.
nat_lines_known() { local i; for i in 1 2 3 4 5; do [[ -n $(nat_line "$i") && $(nat_line "$i") != "not known"* ]] || return 1; done; }
reached() { all_alive 5 "${nat_sites_hosts[@]}" && nat_lines_known; }
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

for i in "${nat_sites_hosts[@]}"; do
  wait_until 60 test -f "$work/h$i/subnet.env" || { echo "# h$i wrote no subnet.env in 60 s"; exit 1; }
done
add_pods "${nat_sites_hosts[@]}"
ready=$(now_us)
WAIT_INTERVAL=0.1 wait_until 90 nat_sites_pods_reach || { echo "# not every pod reached every pod in 90 s"; exit 1; }
echo "figure first_reach_s $(since "$start") s"
echo "figure reach_after_ready_s $(since "$ready") s"
# iperf I K: Gbit/s from pod 1 of host I to pod 1 of host K (iperf3 -J's sum_received).
iperf() {
  local out
  pod_exec "$2" 1 timeout $((iperf_s + 30)) iperf3 -s -1 -B "${podip[$2 1]}" >/dev/null 2>&1 &
  wait_until 5 listening "$2" 1 5201 || { echo "# iperf3 server in h$2 did not listen" >&2; return 1; }
  out=$(pod_exec "$1" 1 timeout $((iperf_s + 20)) iperf3 -J -c "${podip[$2 1]}" -t "$iperf_s") || return 1
  wait || true
  jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out" | awk '{ printf "%.2f\n", $1 }'
}
lan=$(iperf 2 3) && punched=$(iperf 2 4) && relayed=$(iperf 5 2) ||
  { echo "# an iperf3 run failed"; exit 1; }
echo "# paths: h2->h3 $(lease_field 2 h3 path), h2->h4 $(lease_field 2 h4 path), h5->h2 $(lease_field 5 h2 path)"
echo "figure tput.direct.p1 $lan Gbit/s"
echo "figure tput.punched.p1 $punched Gbit/s"
echo "figure tput.relayed.p1 $relayed Gbit/s"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print 0 }'; }
echo "figure ratio.punched_routed.p1 $(ratio "$punched" "$lan") 1"
echo "figure ratio.relayed_direct.p1 $(ratio "$relayed" "$lan") 1"

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
# ping -D stamps each reply; the longest gap between replies is the outage the remap caused.
pod_exec 2 1 timeout 60 ping -D -n -i 0.1 -w 50 "${podip[4 1]}" >"$work/ping.txt" 2>&1 &
pinger=$!
wait_until 10 bash -c "[[ \$(grep -c 'bytes from' '$work/ping.txt') -ge 10 ]]" ||
  { echo "# h2's pod gets no ping replies from h4's"; exit 1; }
remapped=$(now_us)
nat_sites_remap 1 || { echo "# could not restart NAT 1"; exit 1; }
moved() {
  [[ $(nat_line 2) == "reachable at 203.0.113.101:400"* && $(nat_line 3) == "reachable at 203.0.113.101:400"* ]] && all_alive 5 "${nat_sites_hosts[@]}"
}
WAIT_INTERVAL=0.1 wait_until 60 moved || { echo "# NAT 1's hosts did not recover in 60 s"; exit 1; }
echo "figure gossip_remap_recovery_s $(since "$remapped") s"
wait "$pinger" || true
# ping -D: "[1733640000.123456] 64 bytes from ...": the longest gap between two replies.
gap=$(awk -F'[][]' '/^\[[0-9.]+\].*bytes from/ { if (n++ && $2 - last > max) max = $2 - last; last = $2 }
  END { if (n < 2) print "-1.0"; else printf "%.1f\n", max }' "$work/ping.txt")
[[ $gap != -1.0 ]] || { echo "# no ping replies across the remap"; exit 1; }
echo "figure remap_recovery_s $gap s"
echo "# h2: $before -> $(nat_line 2); members declared dead in all: $(declared_dead)"
