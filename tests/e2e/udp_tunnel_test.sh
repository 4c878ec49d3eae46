#!/usr/bin/env bash
# End-to-end: the udp backend (a TUN device and shoal's userspace tunnel) carries pod traffic.
#   usage: tests/e2e/udp_tunnel_test.sh PATH/TO/shoal plain|enc|sites
# plain and enc: 3 hosts on one segment (192.0.2.0/24), Backend udp with Encrypt false / true,
# 2 pods per host from Debian's CNI plugins (tests/e2e/pods.sh). Overlay 198.18.0.0/16.
# 1. subnet.env's MTU is the underlay's minus the tunnel's overhead (1468 plain, 1404 sealed: room for a relay header);
#    shoal0 exists with that MTU and the one route for the whole network (proto 83).
# 2. Every pod pings every pod on the other hosts; 50 MB of TCP arrive intact.
# 3. A marker string sent pod to pod is on the underlay in plaintext mode, and never with
#    encryption (tcpdump on h1's veth).
# 4. Drops, each counted by reason in shoal_tunnel_dropped_total: a ping to an address no lease
#    holds gets an ICMP unreachable (no_route), a TTL-1 packet time exceeded (ttl_expired);
#    (enc) a captured datagram sent again (replay), the same with one bit flipped
#    (auth_failed); a datagram from an address with no lease (unknown_sender); 20,000 random datagrams do not stall the tunnel or crash the agent.
# 5. (enc) Rekey under load: an iperf3 run across at least 3 rekeys (RekeySeconds 10) keeps
#    its connection and every byte.
# sites: hosts 1 and 2 on segment A, host 3 on segment B behind a router, Backend auto with
# Fallback udp, encrypted: h1-h2 by host-gw, anything to or from h3 through the tunnel; all
# pods ping all pods, and `shoal leases` shows the paths.
# Everything is bounded in time and removed on exit (netns.sh's trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/pods.sh
source "$here/pods.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
usage="usage: $0 PATH/TO/shoal plain|enc|sites"
mode=${2:-}
case $mode in
  plain | enc | sites) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
require_root "e2e.udp.$mode"
shoal=$(realpath "${1:?$usage}")
need_packages iputils-ping netcat-openbsd containernetworking-plugins nftables tcpdump iperf3 python3 jq

hosts=(1 2 3)
pods=(1 2)
tun=shoal0
port=8285

on_fail() {  # fail's extra diagnostics (cluster.sh)
  local i
  for i in "${hosts[@]}"; do
    echo "--- h$i: routes, status" >&2
    netns_exec "$i" ip -4 route >&2 2>&1 || true
    ctl "$i" status >&2 2>&1 || true
  done
}
FAIL_LOG_LINES=25

work=$(mktemp -d /tmp/shoal-udp-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
if [[ $mode == sites ]]; then
  netns_setup_routed "ud$$" 2 1
else
  netns_setup "ud$$" 3
fi
mkdir -p "$work/cni"

encrypt=true
[[ $mode == plain ]] && encrypt=false
backend=(--backend udp)
[[ $mode == sites ]] && backend=(--backend auto --backend-fallback udp)
AGENT_FLAGS=(--subnet-max 198.18.199.0 "${backend[@]}" --encrypt "$encrypt" --rekey-seconds 10)
dropped() { metric "$1" "shoal_tunnel_dropped_total{reason=\"$2\"}"; }

# transfer I J K L PORT: the blob from pod J on host I to pod L on host K, byte for byte.
transfer() {
  pod_transfer "$@" "$work/blob"
  step "   $(($(stat -c %s "$work/blob") / 1000000)) MB h$1p$2 -> h$3p$4 arrived intact in $TRANSFER_SECS s"
}

# ===============================================================================================
step "1. three agents, $([[ $mode == sites ]] && echo "auto + Fallback udp, h3 behind a router" || echo "udp, Encrypt $encrypt")"
for i in "${hosts[@]}"; do start_agent "$i"; done
for i in "${hosts[@]}"; do
  wait_until 60 test -f "$work/h$i/subnet.env" || fail "h$i wrote no subnet.env within 60 s"
done
want_mtu=1404
[[ $mode == plain ]] && want_mtu=1468
for i in "${hosts[@]}"; do
  [[ $(env_value "$i" FLANNEL_MTU) == "$want_mtu" ]] ||
    fail "h$i: FLANNEL_MTU is $(env_value "$i" FLANNEL_MTU), want $want_mtu on a 1500 underlay"
  wait_until 15 netns_exec "$i" ip link show "$tun" >/dev/null 2>&1 || fail "h$i has no $tun"
  netns_exec "$i" ip link show "$tun" | grep -q "mtu $want_mtu " || fail "h$i: $tun's MTU is not $want_mtu"
  wait_until 15 bash -c "ip netns exec $(netns_name "$i") ip -4 route show proto 83 | grep -q '^198.18.0.0/16 dev $tun'" ||
    fail "h$i has no proto-83 route for 198.18.0.0/16 into $tun"
done
step "   every host: FLANNEL_MTU $want_mtu, $tun with that MTU, the network routed into it"
if [[ $mode == sites ]]; then
  s2=$(pods_network "$(env_value 2 FLANNEL_SUBNET)")
  wait_until 15 bash -c "ip netns exec $(netns_name 1) ip -4 route show proto 83 | grep -q '^$s2 via $(netns_addr 2) dev $NETNS_DEV'" ||
    fail "sites: h1 does not route h2 ($s2) by host-gw"
  wait_until 15 bash -c "timeout 10 '$shoal' leases --control-socket '$work/h1/shoal.sock' | grep -w h3 | grep -qw udp" ||
    fail "sites: h1's \`shoal leases\` does not show h3 by udp"
  step "   sites: h1 -> h2 by host-gw, h1 -> h3 by the udp tunnel"
fi

step "2. two pods per host; every pod pings every pod on the other hosts; TCP"
add_pods "${hosts[@]}"
ping_pods "${hosts[@]}"
head -c 50000000 /dev/urandom >"$work/blob"
transfer 1 1 3 1 5001
transfer 3 2 2 2 5002

if [[ $mode == sites ]]; then
  for i in "${hosts[@]}"; do
    ctl "$i" status | grep -q "tunnel:.*sessions" || fail "h$i: \`shoal status\` shows no tunnel line"
  done
  step "sites: done"
  exit 0
fi

# capture I FILE UNTIL CMD...: records the tunnel's datagrams on host I's underlay into FILE
# while CMD runs, then waits (5 s at most) until the predicate UNTIL holds on what was recorded,
# and only then stops tcpdump. --immediate-mode hands every packet to tcpdump as it arrives: without
# it libpcap's TPACKET_V3 ring hands packets over a block at a time, when the block fills or its
# timeout (about a second) runs out, and a capture stopped sooner than that records nothing (#19).
capture() {
  local i=$1 file=$2 until=$3 pid
  shift 3
  netns_spawn "$i" "$work/tcpdump.log" tcpdump -Z root -i "$NETNS_DEV" --immediate-mode -U -n \
    -w "$file" "udp port $port"
  pid=$NETNS_LAST_PID
  wait_until 5 grep -q "listening on" "$work/tcpdump.log" || fail "tcpdump did not start on h$i"
  "$@" || true
  wait_until 5 "$until" || true # the caller's check says what is missing
  netns_kill "$i" INT "$pid"
  wait_until 5 not netns_alive_pid "$pid" || fail "tcpdump on h$i did not exit within 5 s of SIGINT"
  : >"$work/tcpdump.log"
}
# datagrams FILE SRC DST TYPE: the UDP payloads (hex, one per line) in the pcap FILE from SRC to
# DST whose first byte is TYPE.
datagrams() { python3 "$here/udp_tools.py" datagrams "$@"; }
# send_udp I FROM TO HEX [COUNT]: sends the datagram HEX from address FROM on host I to TO:port.
send_udp() { netns_exec "$1" python3 "$here/udp_tools.py" send "$2" "$3" "$port" "$4" "${5:-1}"; }

step "3. a marker sent pod to pod: on the underlay $([[ $encrypt == true ]] && echo never || echo "in plaintext")"
# 16 bytes, ping's longest fill pattern: the payload of every ping repeats it.
marker=$(printf 'shoalmk%09d' $(((RANDOM * 32768 + RANDOM) % 1000000000)))  # never 10 digits
marker_hex=$(printf '%s' "$marker" | od -An -tx1 | tr -d ' \n')
send_marker() { pod_exec 1 1 ping -c 3 -i 0.2 -W 1 -q -s 200 -p "$marker_hex" "${podip[2 1]}" >/dev/null; }
data_kind=$([[ $encrypt == true ]] && echo 4 || echo 5)
marker_datagrams() { datagrams "$work/marker.pcap" "$(netns_addr 1)" "$(netns_addr 2)" "$data_kind" | wc -l; }
three_marker_datagrams() { (($(marker_datagrams) >= 3)); } # one per ping
capture 1 "$work/marker.pcap" three_marker_datagrams send_marker
seen=$(marker_datagrams)
((seen > 0)) || fail "the capture holds no tunnel datagram from h1 to h2: $(tcpdump -n -r "$work/marker.pcap" 2>&1 | head -n 5)"
if grep -aq "$marker" "$work/marker.pcap"; then
  [[ $encrypt == false ]] || fail "the marker is on the wire in clear with encryption on"
  step "   plaintext: the marker is on the wire ($seen datagrams captured)"
else
  [[ $encrypt == true ]] || fail "plaintext mode, but the marker is not on the wire"
  step "   encrypted: $seen datagrams captured, the marker in none"
fi

step "4. what the tunnel must drop"
before=$(dropped 1 no_route)
out=$(pod_exec 1 1 ping -c 1 -W 2 198.18.250.1 2>&1 || true)
grep -q "Unreachable" <<<"$out" || fail "a ping to an address no lease holds got no ICMP unreachable: $out"
wait_until 5 test "$(dropped 1 no_route)" -gt "$before" || fail "h1 did not count the packet as no_route"
step "   no lease for 198.18.250.1: '$(grep -m1 Unreachable <<<"$out" | sed 's/^ *//')', counted as no_route"

before=$(dropped 1 ttl_expired)
out=$(netns_exec 1 ping -c 1 -t 1 -W 2 "${podip[2 1]}" 2>&1 || true)
grep -q "Time to live exceeded" <<<"$out" || fail "a TTL-1 packet into the tunnel got no ICMP time exceeded: $out"
wait_until 5 test "$(dropped 1 ttl_expired)" -gt "$before" || fail "h1 did not count the TTL-1 packet as ttl_expired"
step "   TTL 1 is not forwarded: '$(grep -m1 "Time to live" <<<"$out" | sed 's/^ *//')', counted as ttl_expired"

netns_exec 1 ip addr add 192.0.2.240/24 dev "$NETNS_DEV" || fail "could not add a lease-less address to h1"
type_byte=$([[ $encrypt == true ]] && echo 4 || echo 5)
# All of them, not `| head -n 1`: under pipefail the writer killed by SIGPIPE fails the script.
mapfile -t samples < <(datagrams "$work/marker.pcap" "$(netns_addr 1)" "$(netns_addr 2)" "$type_byte")
sample=${samples[0]:-}
[[ -n $sample ]] || fail "no captured tunnel datagram to replay"
before=$(dropped 2 unknown_sender)
send_udp 1 192.0.2.240 "$(netns_addr 2)" "$([[ $encrypt == true ]] && echo "04000000ffffffff0000000000000000$(printf '%064d' 0)" || echo "$sample")"
wait_until 5 test "$(dropped 2 unknown_sender)" -gt "$before" || fail "h2 did not drop a datagram from an address with no lease"
step "   a datagram from 192.0.2.240 (no lease) dropped as unknown_sender"
if [[ $encrypt == true ]]; then
  before=$(dropped 2 replay)
  send_udp 1 "$(netns_addr 1)" "$(netns_addr 2)" "$sample"
  wait_until 5 test "$(dropped 2 replay)" -gt "$before" || fail "h2 did not drop a replayed datagram as replay"
  step "   a captured datagram sent again dropped as replay"
  flipped=$(python3 "$here/udp_tools.py" flip "$sample" 20)
  before=$(dropped 2 auth_failed)
  send_udp 1 "$(netns_addr 1)" "$(netns_addr 2)" "$flipped"
  wait_until 5 test "$(dropped 2 auth_failed)" -gt "$before" || fail "h2 did not drop a datagram with a flipped bit as auth_failed"
  step "   the same datagram with one bit flipped dropped as auth_failed"
fi
netns_exec 1 python3 "$here/udp_tools.py" flood "$(netns_addr 2)" "$port" 20000 ||
  fail "the random flood could not be sent"
netns_alive 2 || fail "h2's agent died under 20,000 random datagrams"
ping_pods "${hosts[@]}"
step "   20,000 random datagrams to h2: its agent runs and every pod still reaches every pod"

if [[ $encrypt == true ]]; then
  step "5. rekey under load: iperf3 for 32 s across rekeys every 10 s"
  done_before=$(metric 1 'shoal_tunnel_handshakes_total{event="completed"}')
  pending_before=$(dropped 1 handshake_pending)
  pod_exec 2 1 timeout 60 iperf3 -s -1 -p 5201 >"$work/iperf-server.log" 2>&1 &
  server=$!
  wait_until 5 listening 2 1 5201 || fail "iperf3 does not listen in h2p1"
  pod_exec 1 1 timeout 60 iperf3 -c "${podip[2 1]}" -p 5201 -t 32 -J >"$work/iperf.json" 2>&1 ||
    fail "iperf3 across rekeys failed: $(tail -n 5 "$work/iperf.json")"
  wait "$server" || true
  done_after=$(metric 1 'shoal_tunnel_handshakes_total{event="completed"}')
  rekeys=$(awk -v a="$done_after" -v b="$done_before" 'BEGIN { print a - b }')
  ((rekeys >= 3)) || fail "only $rekeys handshakes completed on h1 during 32 s of iperf3 (rekey every 10 s)"
  [[ $(dropped 1 handshake_pending) == "$pending_before" ]] ||
    fail "h1 dropped packets waiting for a handshake during the rekeys"
  gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$work/iperf.json" | awk '{ printf "%.2f\n", $1 }')
  step "   $rekeys handshakes on h1, the connection held, no packet waited for a session, $gbps Gbit/s"
fi
step "done"
