#!/usr/bin/env bash
# End-to-end: shoal's kernel datapath carries pod traffic between real network namespaces.
#   usage: tests/e2e/datapath_test.sh PATH/TO/shoal vxlan|host-gw|auto
# Topology: vxlan and host-gw put 3 hosts on one underlay segment (192.0.2.0/24); auto puts
# hosts 1 and 2 on segment A (192.0.2.0/24) and host 3 on segment B (198.51.100.0/24), joined
# by a router, so h1-h2 goes by host-gw and everything to or from h3 by vxlan. Each host gets
# 2 pods, attached by Debian's CNI plugins (bridge + host-local) configured from the agent's
# subnet.env as flannel's CNI plugin would (tests/e2e/pods.sh). Overlay 198.18.0.0/16.
# 1. A stale proto-83 route left on h1 before the agents start is gone once h1's agent runs;
#    every host then holds exactly one proto-83 route per peer, of the backend's path, and
#    (vxlan) device shoal.1 with one permanent neighbour and one FDB entry per vxlan peer,
#    matching that peer's device MAC and underlay address; subnet.env's MTU fits the backend.
#    auto: h1 reaches h2 on u0 by host-gw and h3 on shoal.1 by vxlan; `shoal leases` says so.
# 2. Every pod pings every pod on the other hosts.
# 3. 5 MB over TCP pod to pod between hosts arrive byte for byte (and, with the agents'
#    IPMasq on, from the sender pod's own address: pod to pod traffic is not masqueraded).
# 4. A route, a neighbour, an FDB entry deleted by hand come back within 15 s; so does the
#    vxlan device, with all its peers, and the pods ping again.
# 5. SIGKILL h3's agent: the pods on h1 and h2 still reach each other and h3's pods (the kernel
#    state outlives the agent), also once the others have declared h3 dead. Restarted with
#    the same data dir (and a stale route added by hand meanwhile): same subnet, exactly 2
#    proto-83 routes on h3, the stale one gone.
# 6. `shoal leave` on h2: within 15 s h1 and h3 hold no route, neighbour or FDB entry for h2,
#    and h2 none of its own (nor its vxlan device, nor its masquerade table); h1's and h3's
#    pods still reach each other.
# DATAPATH_IPMASQ=false runs the agents with --ip-masq false (then the bridge plugin
# masquerades, as under flannel, and step 3 does not check the source address).
# Everything is bounded in time and removed on exit (netns.sh's trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/pods.sh
source "$here/pods.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
usage="usage: $0 PATH/TO/shoal vxlan|host-gw|auto"
backend=${2:-}
case $backend in
  vxlan | host-gw | auto) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
require_root "e2e.datapath.$backend"
shoal=$(realpath "${1:?$usage}")
ipmasq=${DATAPATH_IPMASQ:-true}
[[ $ipmasq == true || $ipmasq == false ]] || { echo "DATAPATH_IPMASQ must be true or false" >&2; exit 2; }
need_packages iputils-ping netcat-openbsd containernetworking-plugins nftables

vx=shoal.1            # the vxlan device (VNI 1)
stale=198.18.250.0/24 # above --subnet-max below: never a lease
hosts=(1 2 3)
pods=(1 2)

dump_host() {  # dump_host I: what host I's kernel holds of shoal's, for a failure report
  local i=$1
  echo "--- h$i: ip route show proto 83" >&2
  netns_exec "$i" ip -4 route show proto 83 >&2 2>&1 || true
  if netns_exec "$i" test -e "/sys/class/net/$vx" 2>/dev/null; then
    echo "--- h$i: $vx, its neighbours and FDB" >&2
    netns_exec "$i" ip -d link show "$vx" >&2 2>&1 || true
    netns_exec "$i" ip neigh show dev "$vx" >&2 2>&1 || true
    netns_exec "$i" bridge fdb show dev "$vx" >&2 2>&1 || true
  fi
}
on_fail() {  # fail's extra diagnostics (cluster.sh)
  local i
  for i in "${hosts[@]}"; do dump_host "$i"; done
}
FAIL_LOG_LINES=25

work=$(mktemp -d /tmp/shoal-dp-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
if [[ $backend == auto ]]; then
  netns_setup_routed "dp$$" 2 1
else
  netns_setup "dp$$" 3
fi
mkdir -p "$work/cni"

AGENT_FLAGS=(--subnet-max 198.18.199.0 --backend "$backend" --ip-masq "$ipmasq")

# path_of I J: how host I should reach host J's pods: host-gw or vxlan.
path_of() {
  case $backend in
    vxlan | host-gw) echo "$backend" ;;
    auto) if [[ $(netns_segment "$1") == "$(netns_segment "$2")" ]]; then echo host-gw; else echo vxlan; fi ;;
  esac
}
# onlink_via I: an underlay address on host I's segment other than its own (for a stale route).
onlink_via() {
  local j
  for j in "${hosts[@]}"; do
    if [[ $j != "$1" && $(netns_segment "$j") == "$(netns_segment "$1")" ]]; then
      netns_addr "$j"
      return 0
    fi
  done
  netns_router_addr "$(netns_segment "$1")"
}

# ---- kernel state -----------------------------------------------------------------------------
declare -A subnet=() # host -> its pod subnet, from subnet.env
routes83() { netns_exec "$1" ip -4 route show proto 83 2>/dev/null; }
lines() { if [[ -z $1 ]]; then echo 0; else wc -l <<<"$1"; fi; }
has_device() { netns_exec "$1" test -e "/sys/class/net/$vx"; }
has_masq_table() { netns_exec "$1" nft list table ip shoal >/dev/null 2>&1; }
device_mac() { netns_exec "$1" cat "/sys/class/net/$vx/address" 2>/dev/null; }
neighbours() { netns_exec "$1" ip neigh show dev "$vx" 2>/dev/null; }
fdb() { netns_exec "$1" bridge fdb show dev "$vx" 2>/dev/null | grep " dst " || true; }
has_route() {  # has_route I SUBNET: some proto-83 route for SUBNET on host I
  routes83 "$1" | grep -q "^$2 "
}

# peer_ok I J: host I routes host J's subnet the way path_of says, and (vxlan) holds J's
# neighbour and FDB entry with J's device MAC and underlay address.
peer_ok() {
  local i=$1 j=$2 s=${subnet[$2]} r mac
  r=$(routes83 "$i" | grep "^$s ") || return 1
  [[ $(lines "$r") -eq 1 ]] || return 1
  if [[ $(path_of "$i" "$j") == host-gw ]]; then
    [[ "$r " == "$s via $(netns_addr "$j") dev $NETNS_DEV "* ]]
    return
  fi
  [[ "$r " == "$s via ${s%/*} dev $vx "* ]] || return 1
  mac=$(device_mac "$j") || return 1
  neighbours "$i" | grep "^${s%/*} " | grep -q "lladdr $mac PERMANENT" || return 1
  fdb "$i" | grep -q "^$mac dst $(netns_addr "$j") "
}

# state_ok I PEERS...: host I holds exactly the peers' routes (one proto-83 route each), each
# right (peer_ok), and as many neighbours and FDB entries as vxlan peers; the device exists
# unless the backend is host-gw.
state_ok() {
  local i=$1 j nvx=0
  shift
  [[ $(lines "$(routes83 "$i")") -eq $# ]] || return 1
  for j in "$@"; do
    peer_ok "$i" "$j" || return 1
    [[ $(path_of "$i" "$j") == vxlan ]] && nvx=$((nvx + 1))
  done
  if [[ $backend == host-gw ]]; then
    has_device "$i" && return 1
    return 0
  fi
  has_device "$i" || return 1
  [[ $(lines "$(neighbours "$i")") -eq $nvx && $(lines "$(fdb "$i")") -eq $nvx ]]
}
# all_ok HOSTS...: state_ok on every listed host, with the others listed as its peers.
all_ok() {
  local i j peers
  for i in "$@"; do
    peers=()
    for j in "$@"; do [[ $j == "$i" ]] || peers+=("$j"); done
    state_ok "$i" "${peers[@]}" || return 1
  done
}
# forgotten I J: host I holds nothing for host J: no route, neighbour or FDB entry.
forgotten() {
  local i=$1 j=$2 s=${subnet[$2]}
  ! has_route "$i" "$s" || return 1
  has_device "$i" || return 0
  ! neighbours "$i" | grep -q "^${s%/*} " && ! fdb "$i" | grep -q " dst $(netns_addr "$j") "
}

# ---- pods -------------------------------------------------------------------------------------
# transfer I J K L PORT: 5 MB from pod J on host I to pod L on host K arrive byte for byte.
transfer() {
  local i=$1 j=$2 k=$3 l=$4
  pod_transfer "$@" "$work/blob"
  if [[ $ipmasq == true && $TRANSFER_FROM != "${podip[$i $j]}" ]]; then
    fail "h${i}p$j -> h${k}p$l arrived from '$TRANSFER_FROM', not the pod's ${podip[$i $j]} (masqueraded?)"
  fi
  step "   5 MB h${i}p$j -> h${k}p$l ($(path_of "$i" "$k")) arrived intact, from $TRANSFER_FROM"
}

# ===============================================================================================
step "1. three agents, backend $backend$([[ $backend == auto ]] && echo ": h1 h2 on 192.0.2.0/24, h3 on 198.51.100.0/24 behind a router")"
netns_exec 1 ip route add "$stale" via "$(onlink_via 1)" dev "$NETNS_DEV" proto 83 ||
  fail "could not add the stale route on h1"
for i in "${hosts[@]}"; do start_agent "$i"; done
for i in "${hosts[@]}"; do
  wait_until 60 test -f "$work/h$i/subnet.env" || fail "h$i wrote no subnet.env within 60 s"
  subnet[$i]=$(env_subnet "$i") || fail "h$i: bad FLANNEL_SUBNET in subnet.env"
done
step "   subnets: h1 ${subnet[1]}, h2 ${subnet[2]}, h3 ${subnet[3]}"
[[ ${subnet[1]} != "${subnet[2]}" && ${subnet[1]} != "${subnet[3]}" && ${subnet[2]} != "${subnet[3]}" ]] ||
  fail "two hosts got the same subnet"
want_mtu=1450
[[ $backend == host-gw ]] && want_mtu=1500
for i in "${hosts[@]}"; do
  [[ $(env_value "$i" FLANNEL_MTU) == "$want_mtu" ]] ||
    fail "h$i: FLANNEL_MTU is $(env_value "$i" FLANNEL_MTU), want $want_mtu for $backend on a 1500 underlay"
  [[ $(env_value "$i" FLANNEL_IPMASQ) == "$ipmasq" ]] || fail "h$i: FLANNEL_IPMASQ is not $ipmasq"
  if [[ $ipmasq == true ]]; then
    wait_until 15 has_masq_table "$i" || fail "h$i: IPMasq is on but there is no nftables table ip shoal"
  fi
done
wait_until 15 not has_route 1 "$stale" || fail "the stale route $stale on h1 is still there 15 s after h1's subnet.env"
step "   the stale route on h1 was removed"
wait_until 30 all_ok "${hosts[@]}" || fail "the hosts do not hold exactly their peers' routes within 30 s"
step "   every host holds exactly its 2 peers' routes after $(us_to_secs "$WAIT_ELAPSED_US") s"
if [[ $backend != host-gw ]]; then
  for i in "${hosts[@]}"; do
    netns_exec "$i" ip link show "$vx" | grep -q "mtu $want_mtu " || fail "h$i: $vx's MTU is not $want_mtu"
  done
fi
for i in "${hosts[@]}"; do
  for j in "${hosts[@]}"; do
    [[ $j == "$i" ]] && continue
    [[ $(lease_field "$i" "h$j" path) == "$(path_of "$i" "$j")" ]] ||
      fail "h$i: \`shoal leases\` shows path '$(lease_field "$i" "h$j" path)' for h$j, not $(path_of "$i" "$j")"
  done
done
step "   \`shoal leases\` shows each peer's path"
if [[ $backend == auto ]]; then
  # read the routes first: `ip ... | grep -q` fails under pipefail when grep's early exit
  # hits ip with SIGPIPE
  h1_routes=$(routes83 1)
  grep -q "^${subnet[2]} via $(netns_addr 2) dev $NETNS_DEV" <<<"$h1_routes" || fail "auto: h1 does not route h2 by host-gw"
  grep -q "^${subnet[3]} via ${subnet[3]%/*} dev $vx" <<<"$h1_routes" || fail "auto: h1 does not route h3 by vxlan"
  out=$(ctl 1 leases) || fail "shoal leases failed on h1"
  if ! grep -q host-gw <<<"$out" || ! grep -q vxlan <<<"$out"; then
    fail "auto: h1's leases lack host-gw or vxlan: $out"
  fi
  step "   auto: h1 -> h2 by host-gw on $NETNS_DEV, h1 -> h3 by vxlan on $vx"
fi

step "2. two pods per host; every pod pings every pod on the other hosts"
add_pods "${hosts[@]}"
step "   pods: $(for k in "${!podip[@]}"; do echo -n "h${k% *}p${k#* }=${podip[$k]} "; done)"
ping_pods "${hosts[@]}"

step "3. TCP pod to pod between hosts"
head -c 5000000 /dev/urandom >"$work/blob"
transfer 1 1 2 1 5001
transfer 1 2 3 2 5002
transfer 3 1 2 2 5003

step "4. repairs: shoal's objects deleted by hand come back"
for j in 2 3; do
  netns_exec 1 ip route del "${subnet[$j]}" || fail "could not delete h1's route to h$j"
  wait_until 15 state_ok 1 2 3 || fail "h1's route to h$j did not come back within 15 s"
  step "   h1's $(path_of 1 "$j") route to h$j (${subnet[$j]}) is back after $(us_to_secs "$WAIT_ELAPSED_US") s"
  [[ $backend == auto ]] || break # one route is enough when both take the same path
done
if [[ $backend != host-gw ]]; then
  vxpeer=2
  [[ $backend == auto ]] && vxpeer=3
  vtep=${subnet[$vxpeer]%/*}
  mac=$(device_mac "$vxpeer")
  netns_exec 1 ip neigh del "$vtep" dev "$vx" || fail "could not delete h1's neighbour $vtep"
  wait_until 15 state_ok 1 2 3 || fail "h1's neighbour $vtep did not come back within 15 s"
  step "   h1's neighbour $vtep ($mac) is back after $(us_to_secs "$WAIT_ELAPSED_US") s"
  netns_exec 1 bridge fdb del "$mac" dev "$vx" dst "$(netns_addr "$vxpeer")" ||
    fail "could not delete h1's FDB entry $mac"
  wait_until 15 state_ok 1 2 3 || fail "h1's FDB entry $mac did not come back within 15 s"
  step "   h1's FDB entry $mac dst $(netns_addr "$vxpeer") is back after $(us_to_secs "$WAIT_ELAPSED_US") s"
  netns_exec 1 ip link del "$vx" || fail "could not delete h1's $vx"
  wait_until 15 state_ok 1 2 3 || fail "h1's $vx did not come back with all its peers within 15 s"
  step "   h1's $vx is back with all its peers after $(us_to_secs "$WAIT_ELAPSED_US") s"
  ping_pods "${hosts[@]}"
fi
repaired=$(netns_metric 1 9100 shoal_datapath_drift_repaired_total)
((repaired >= 1)) || fail "h1 put objects back but shoal_datapath_drift_repaired_total is $repaired"
step "   h1 counted $repaired repairs (shoal_datapath_drift_repaired_total)"

step "5. SIGKILL h3's agent: its kernel state stays"
netns_kill 3 KILL
wait_until 10 netns_stopped 3 || fail "h3's agent survived SIGKILL"
ping_pods "${hosts[@]}"
h1_sees_h3_dead() { [[ $(member_state 1 h3) == dead ]]; }
wait_until 60 h1_sees_h3_dead || fail "h1 did not declare h3 dead within 60 s"
step "   h1 declared h3 dead after $(us_to_secs "$WAIT_ELAPSED_US") s"
all_ok "${hosts[@]}" || fail "a host changed its routes when h3 died (its lease is still valid)"
ping_pods "${hosts[@]}"
netns_exec 3 ip route add "$stale" via "$(onlink_via 3)" dev "$NETNS_DEV" proto 83 ||
  fail "could not add the stale route on h3"
rm -f "$work/h3/subnet.env"
start_agent 3
wait_until 60 test -f "$work/h3/subnet.env" || fail "restarted h3 wrote no subnet.env within 60 s"
[[ $(env_subnet 3) == "${subnet[3]}" ]] || fail "h3 came back with $(env_subnet 3), had ${subnet[3]}"
wait_until 15 not has_route 3 "$stale" || fail "the stale route $stale on h3 survived the restart by 15 s"
wait_until 15 all_ok "${hosts[@]}" || fail "after h3's restart the hosts do not hold exactly their peers' routes"
[[ $(lines "$(routes83 3)") -eq 2 ]] || fail "h3 holds $(lines "$(routes83 3)") proto-83 routes, not 2"
step "   h3 is back with ${subnet[3]}, exactly 2 proto-83 routes, the stale one gone"
ping_pods "${hosts[@]}"

step "6. shoal leave on h2"
ctl 2 leave >/dev/null || fail "shoal leave failed on h2"
wait_until 10 netns_stopped 2 || fail "h2's agent did not exit after shoal leave"
left_everywhere() { forgotten 1 2 && forgotten 3 2 && all_ok 1 3; }
wait_until 15 left_everywhere || fail "h1 or h3 still hold h2's route, neighbour or FDB entry 15 s after it left"
step "   h1 and h3 forgot h2 after $(us_to_secs "$WAIT_ELAPSED_US") s"
[[ $(lines "$(routes83 2)") -eq 0 ]] || fail "h2 kept its proto-83 routes after leaving"
! has_device 2 || fail "h2 kept $vx after leaving"
! has_masq_table 2 || fail "h2 kept its masquerade table (nftables table ip shoal) after leaving"
step "   h2 removed its own routes$([[ $backend != host-gw ]] && echo " and $vx")"
ping_pods 1 3
echo "PASS: e2e.datapath.$backend"
