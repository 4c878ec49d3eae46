#!/usr/bin/env bash
# bench/datapath.sh: pod-to-pod throughput of shoal's kernel backends beside the bare veth and a
# hand-configured kernel vxlan, on the same namespaces in one run (root).
#
# Topology (tests/e2e/netns.sh): hosts h1..h3 on one bridge (underlay 192.0.2.0/24); h1 and h2
# get one pod each through the real CNI plugins (tests/e2e/pods.sh), configured from the
# subnet.env shoal wrote. iperf3 (Debian's) runs for DATAPATH_SECONDS (default 5) per figure.
# The agents run with IPMasq on, as kube-flannel runs flannel: shoal masquerades only what
# leaves the overlay, so the CNI bridge does not NAT pod-to-pod traffic (with IPMasq off it
# would, as under flannel, and every pod packet would pay for conntrack).
#
# Figures (other lines start with '#'):
#   first_ping_s.n3            s       3 agents start at one instant (fresh data dirs); time
#                                      until a pod on h1 first gets an answer from a pod on h2
#                                      (subnet claimed and settled, subnet.env, CNI, routes)
#   tput.veth.pP               Gbit/s  host to host on the underlay itself, P = 1 and 4 streams
#   tput.vxlan.pP              Gbit/s  pod to pod, shoal's vxlan backend
#   tput.vxlan_hand.pP         Gbit/s  pod to pod, the agents stopped and shoal's objects
#                                      replaced by a vxlan device, neighbours, FDB entries and
#                                      routes made by hand with `ip` (what shoal should match)
#   tput.hostgw.pP             Gbit/s  pod to pod, shoal's host-gw backend
#   ratio.hostgw_veth.p1       x       host-gw / veth
#   ratio.vxlan_hand.p1        x       shoal vxlan / hand-made vxlan
#   install_s.peers1000, noop_reconcile_ms.peers1000, repair_ms.peers1000
#                                      from datapath_install_bench (1,000 synthetic peers)
# Environment: DATAPATH_SECONDS (5), PEERS (1000).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
# shellcheck source=tests/e2e/pods.sh
source "$root/tests/e2e/pods.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$root/tests/e2e/cluster.sh"
require_root datapath
need_packages iperf3 iputils-ping containernetworking-plugins iptables
shoal=$root/build/release/cli/shoal
installer=$root/build/release/bench/datapath_install_bench
seconds=${DATAPATH_SECONDS:-5}

work=$(mktemp -d /tmp/shoal-bench-datapath-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
netns_setup "bd$$" 3

AGENT_LOG_LEVEL=info  # cluster.sh's start_agent: the agent's default, as a user runs it
declare -A agent_pid=()
run_agent() {  # run_agent I BACKEND: cluster.sh's start_agent, remembering the agent's PID
  start_agent "$1" --backend "$2" --ip-masq true
  agent_pid[$1]=$NETNS_LAST_PID
}
stop_agent() {  # stop_agent I: SIGTERM to the agent alone (iperf3 on the host runs on); the
  # lease and the kernel state stay
  netns_kill "$1" TERM "${agent_pid[$1]}"
  wait_until 10 not netns_alive_pid "${agent_pid[$1]}" || echo "# h$1's agent did not stop in 10 s"
}

# iperf3 from $1 (a command prefix) to address $2 with P streams; prints Gbit/s.
iperf() {
  local p=$3 json
  # shellcheck disable=SC2086 # $1 is a command prefix on purpose
  json=$($1 iperf3 -c "$2" -t "$seconds" -P "$p" -J 2>/dev/null) || { echo 0; return; }
  grep -A8 '"sum_received"' <<<"$json" | awk -F: '/bits_per_second/ { gsub(/[ ,]/, "", $2); printf "%.3f\n", $2 / 1e9; exit }'
}
measure() {  # measure CASE CLIENT_PREFIX SERVER_ADDR
  local p
  for p in 1 4; do
    tput[$1.p$p]=$(iperf "$2" "$3" "$p")
    echo "figure tput.$1.p$p ${tput[$1.p$p]} Gbit/s"
  done
}
declare -A tput=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f\n", a / b; else print 0 }'; }

echo "# 1. first ping: 3 agents start at once (vxlan)"
t0=$(now_us)
for i in 1 2 3; do run_agent "$i" vxlan; done
wait_until 30 test -f "$work/h1/subnet.env" -a -f "$work/h2/subnet.env" ||
  { echo "# the agents did not settle"; tail -5 "$work"/h*.log; exit 1; }
pod_add 1 1 "$work/h1/subnet.env" "$work/cni"
pod_add 2 1 "$work/h2/subnet.env" "$work/cni"
pod2=$(pod_addr 2 1)
WAIT_INTERVAL=0.02 wait_until 30 pod_exec 1 1 ping -c1 -W0.2 -q "$pod2" >/dev/null ||
  { echo "# no pod-to-pod ping"; exit 1; }
echo "figure first_ping_s.n3 $(us_to_secs $(($(now_us) - t0))) s"

echo "# 2. throughput, $seconds s per figure"
netns_spawn 2 "$work/iperf-h2.log" iperf3 -s
netns_spawn 2 "$work/iperf-pod.log" ip netns exec "$(pod_name 2 1)" iperf3 -s
h2_listens() { netns_exec 2 ss -Hltn "sport = :5201" | grep -q LISTEN; }
pod_listens() { pod_exec 2 1 ss -Hltn "sport = :5201" | grep -q LISTEN; }
WAIT_INTERVAL=0.05 wait_until 5 h2_listens || { echo "# iperf3 -s does not listen on h2"; exit 1; }
WAIT_INTERVAL=0.05 wait_until 5 pod_listens || { echo "# iperf3 -s does not listen in h2p1"; exit 1; }
measure veth "netns_exec 1" "$(netns_addr 2)"
measure vxlan "pod_exec 1 1" "$pod2"

# The same pods over a vxlan made by hand: the agents stop (kernel state stays), shoal's device
# goes, and ip makes what shoal makes, under another name, VNI and port.
for i in 1 2 3; do stop_agent "$i"; done
declare -A mac=([1]=02:5e:00:00:01:01 [2]=02:5e:00:00:01:02)
for i in 1 2; do
  netns_exec "$i" ip link del shoal.1
  netns_exec "$i" ip link add vxh type vxlan id 42 dstport 4789 local "$(netns_addr "$i")" dev u0 nolearning
  netns_exec "$i" ip link set vxh address "${mac[$i]}" mtu 1450 up
done
for i in 1 2; do
  j=$((3 - i))
  peer=$(env_subnet "$j")
  vtep=${peer%/*}
  netns_exec "$i" ip addr add "$(env_subnet "$i" | cut -d/ -f1)/32" dev vxh
  netns_exec "$i" ip neigh replace "$vtep" lladdr "${mac[$j]}" dev vxh nud permanent
  netns_exec "$i" bridge fdb append "${mac[$j]}" dev vxh dst "$(netns_addr "$j")"
  netns_exec "$i" ip route replace "$peer" via "$vtep" dev vxh onlink
done
WAIT_INTERVAL=0.05 wait_until 10 pod_exec 1 1 ping -c1 -W0.2 -q "$pod2" >/dev/null ||
  echo "# the hand-made vxlan does not carry pings"
measure vxlan_hand "pod_exec 1 1" "$pod2"
for i in 1 2; do netns_exec "$i" ip link del vxh; done

# host-gw: the same agents (same data dirs, so the same subnets) with the other backend.
for i in 1 2 3; do run_agent "$i" host-gw; done
hostgw_route() { netns_exec 1 ip route show proto 83 | grep -q "via $(netns_addr 2) dev u0"; }
wait_until 30 hostgw_route || echo "# no host-gw route on h1 after 30 s"
WAIT_INTERVAL=0.05 wait_until 10 pod_exec 1 1 ping -c1 -W0.2 -q "$pod2" >/dev/null ||
  echo "# host-gw does not carry pings"
measure hostgw "pod_exec 1 1" "$pod2"

echo "figure ratio.hostgw_veth.p1 $(ratio "${tput[hostgw.p1]}" "${tput[veth.p1]}") x"
echo "figure ratio.vxlan_hand.p1 $(ratio "${tput[vxlan.p1]}" "${tput[vxlan_hand.p1]}") x"

echo "# 3. 1,000 synthetic peers into one kernel"
"$installer"
