#!/usr/bin/env bash
# End-to-end: pod traffic across real NAT routers, carried by the encrypted udp tunnel.
#   usage: tests/e2e/nat_pods_test.sh PATH/TO/shoal [short|full]
# The four sites of nat_sites.sh (h1 public; h2, h3 behind cone NAT 1; h4 behind cone NAT 2;
# h5 behind a symmetric NAT), Backend udp with Encrypt true and keepalives every 5 s, one pod per
# host, nothing configured but h1 as the seed. Then:
# 1. every pod pings every other pod: through NAT 1's LAN, through punched holes, and through
#    h1 as the relay for the symmetric site;
# 2. `shoal leases` shows the tunnel's paths: h2-h3 udp/direct (same LAN), h2-h4 udp/punched,
#    h2-h5 udp/relayed (via h1);
# 3. 50 MB of TCP arrive intact on a punched path and on a relayed one; the relay saw only
#    sealed datagrams (a marker sent pod to pod is never on h1's wire in clear);
# 4. NAT 1 restarts with other ports in the middle of a TCP stream from h2's pod to h4's: the
#    tunnel roams to the new mapping and the stream survives, with no agent restarted;
# 5. a second public host h6 joins, then the relay h5 <-> h2 goes through (h1 or h6: the
#    members pick relays by rendezvous hashing) is killed: the other takes over, and h5's pod
#    reaches h2's again through it.
# short (the default, for ctest) moves 50 MB per transfer and streams 20 MB across the remap;
# full moves 200 MB and streams 100 MB.
# Underlay 203.0.113.0/24 and 198.51.100.0/24, overlay 198.18.0.0/16; all removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/pods.sh
source "$here/pods.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/e2e/nat_sites.sh
source "$here/nat_sites.sh"
require_root "e2e.nat_pods"
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal [short|full]}")
mode=${2:-short}
[[ $mode == short || $mode == full ]] || {
  echo "usage: $0 PATH/TO/shoal [short|full]" >&2
  exit 2
}
need_packages containernetworking-plugins tcpdump netcat-openbsd
megabytes=50 stream_mb=20
[[ $mode == full ]] && megabytes=200 stream_mb=100
# shellcheck disable=SC2034 # add_pods and ping_pods read it
pods=(1)
port=8285

on_fail() {  # fail's extra diagnostics: leases, tunnel status, the routers' conntrack tables
  local i k
  for i in 1 2 3 4 5; do
    echo "--- h$i: shoal leases; shoal status" >&2
    ctl "$i" leases >&2 || true
    ctl "$i" status >&2 || true
  done
  for k in 1 2 3; do
    echo "--- NAT $k: conntrack" >&2
    netns_nat_exec "$k" conntrack -L -p udp 2>/dev/null | grep "$port" >&2 || true
  done
}
tunnel_path() { lease_field "$1" "$2" path; }         # tunnel_path I NAME: udp/direct...
tunnel_endpoint() { lease_field "$1" "$2" endpoint; } # tunnel_endpoint I NAME: ip:port, via ID

work=$(mktemp -d /tmp/shoal-e2e-natpods-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
mkdir -p "$work/cni"
head -c "$((megabytes * 1000000))" /dev/urandom >"$work/blob"
nat_sites_setup "np$$"
nat_sites_udp

step "1. five agents at four sites, Backend udp, Encrypt true; a pod on each"
nat_sites_start
for i in "${nat_sites_hosts[@]}"; do
  wait_until 60 test -f "$work/h$i/subnet.env" || fail "h$i wrote no subnet.env within 60 s"
done
add_pods "${nat_sites_hosts[@]}"
wait_until 60 all_alive 5 "${nat_sites_hosts[@]}" || fail "not every agent lists 5 alive members within 60 s"
started=$(now_us)
# The first pings wait on gossip: each host must learn the others' tunnel candidates and which
# member relays (h1 must first find out it is public), punch, and finish a handshake through a
# hole or the relay.
wait_until 60 nat_sites_pods_reach || true
step "   every pod reached every pod $(us_to_secs $(($(now_us) - started))) s after all were alive"
ping_pods "${nat_sites_hosts[@]}"

step "2. the tunnel's paths are what the NATs allow"
expect_tunnel_paths() {
  [[ $(tunnel_path 2 h3) == udp/direct && $(tunnel_path 3 h2) == udp/direct ]] || return 1
  [[ $(tunnel_path 2 h4) == udp/punched && $(tunnel_path 4 h2) == udp/punched ]] || return 1
  [[ $(tunnel_path 2 h5) == udp/relayed && $(tunnel_path 5 h2) == udp/relayed ]] || return 1
}
describe_tunnel_paths() {
  local i j out=""
  for i in 2 4 5; do
    for j in 1 2 3 4 5; do ((i == j)) || out+="h$i->h$j $(tunnel_path "$i" "h$j") $(tunnel_endpoint "$i" "h$j"); "; done
  done
  echo "$out"
}
wait_until 60 expect_tunnel_paths || fail "unexpected tunnel paths: $(describe_tunnel_paths)"
step "   $(describe_tunnel_paths)"

step "3. TCP across a punched hole and through the relay; the relay reads nothing"
pod_transfer 2 1 4 1 5001 "$work/blob"
step "   $megabytes MB h2 -> h4 (punched) intact in $TRANSFER_SECS s"
relayed_before=$(metric 1 shoal_tunnel_relayed_bytes_total)
marker=$(printf 'shoal-relay-marker-%s' "$$")
netns_spawn 1 "$work/tcpdump.log" tcpdump -Z root -i "$NETNS_DEV" --immediate-mode -U -n -A \
  "udp port $port"
dump_pid=$NETNS_LAST_PID
wait_until 5 grep -q "listening on" "$work/tcpdump.log" || fail "tcpdump did not start on h1"
printf '%s' "$marker" >"$work/marker"
for _ in 1 2 3; do pod_exec 5 1 ping -c 1 -W 1 -p "$(printf '%s' "$marker" | head -c 16 | od -An -tx1 | tr -d ' \n')" "${podip[2 1]}" >/dev/null 2>&1 || true; done
pod_transfer 5 1 2 1 5002 "$work/blob"
step "   $megabytes MB h5 -> h2 (relayed by h1) intact in $TRANSFER_SECS s"
netns_kill 1 INT "$dump_pid"
wait_until 5 not netns_alive_pid "$dump_pid" || fail "tcpdump on h1 did not exit within 5 s of SIGINT"
relayed=$(($(metric 1 shoal_tunnel_relayed_bytes_total) - relayed_before))
((relayed >= megabytes * 1000000)) || fail "h1 relayed only $relayed bytes of h5's $megabytes MB"
captured=$(grep -c "UDP" "$work/tcpdump.log" || true)
((captured > 0)) || fail "tcpdump on h1 saw no tunnel datagram"
! grep -q "shoal-relay-mark" "$work/tcpdump.log" || fail "the marker crossed h1 in clear"
step "   h1 relayed $((relayed / 1000000)) MB; $captured datagrams seen on its wire, the marker in none"

step "4. NAT 1 restarts with other ports in the middle of a TCP stream h2 -> h4"
roams_before=$(metric 4 shoal_tunnel_roams_total)
pod_exec 4 1 timeout 90 nc -n -l 5003 >"$work/recv" 2>/dev/null </dev/null &
rx=$!
wait_until 5 listening 4 1 5003 || fail "pod h4p1 does not listen on 5003"
# A slow sender (a megabyte every 0.3 s) keeps the stream open across the remap.
head -c "$((stream_mb * 1000000))" "$work/blob" >"$work/stream"
pod_exec 2 1 bash -c "for ((c = 0; c < $stream_mb; c++)); do
    dd if='$work/stream' bs=1000000 skip=\$c count=1 status=none; sleep 0.3; done" |
  pod_exec 2 1 timeout 85 nc -n -N -w 30 "${podip[4 1]}" 5003 &
tx=$!
wait_until 10 test -s "$work/recv" || fail "the stream h2p1 -> h4p1 did not start"
nat_sites_remap 1 || fail "could not restart NAT 1 with other ports"
remapped=$(now_us)
wait "$tx" || fail "the sender in h2p1 failed across NAT 1's restart"
wait "$rx" || fail "the receiver in h4p1 failed across NAT 1's restart"
cmp -s "$work/recv" "$work/stream" ||
  fail "across the remap $(stat -c %s "$work/recv") bytes arrived, not the $stream_mb MB sent intact"
step "   the stream survived: $stream_mb MB intact, $(us_to_secs $(($(now_us) - remapped))) s after the remap"
step "   h4 now reaches h2 at $(tunnel_endpoint 4 h2) ($(($(metric 4 shoal_tunnel_roams_total) - roams_before)) roams)"
# Idle pairs across NAT 1 recover when a keepalive (every 5 s here) or a punch finds the new
# mapping.
wait_until 60 nat_sites_pods_reach || true
step "   every pod reaches every pod again $(us_to_secs $(($(now_us) - remapped))) s after the remap"
ping_pods "${nat_sites_hosts[@]}"

step "5. a second public host h6 joins; then the relay in use is killed"
netns_add_public_host
nat_sites_agent 6
wait_until 60 test -f "$work/h6/subnet.env" || fail "h6 wrote no subnet.env within 60 s"
add_pods 6
h6_relays() { [[ $(nat_line 6) == public:*relaying ]]; }
wait_until 60 h6_relays ||
  fail "h6 does not find out that it is public and relays: $(nat_line 6)"
short_id() { ctl "$1" status --json | jq -r '.status.id[0:8]'; }
declare -A relay_host=(["$(short_id 1)"]=1 ["$(short_id 6)"]=6)
# h5 may re-choose its path to h2 as h6 joins (for a moment it has none): wait for one, bounded.
relayed_by_public() {
  via=$(tunnel_endpoint 5 h2)
  used=${relay_host[${via#via }]:-}
  [[ -n $used ]]
}
wait_until 30 relayed_by_public || fail "h5 does not reach h2 through h1 or h6: $via"
other=$((used == 1 ? 6 : 1))
other_id=$(short_id "$other")
netns_kill "$used" KILL
killed=$(now_us)
through_other() {
  [[ $(tunnel_endpoint 5 h2) == "via $other_id" && $(tunnel_endpoint 2 h5) == "via $other_id" ]] &&
    ppings 5 1 "${podip[2 1]}" && ppings 2 1 "${podip[5 1]}"
}
wait_until 90 through_other ||
  fail "h5 <-> h2 did not move to h$other ($other_id): h5 sends to h2 $(tunnel_endpoint 5 h2), h2 to h5 $(tunnel_endpoint 2 h5)"
step "   h$used relayed h5 <-> h2 and was killed; h$other took over $(us_to_secs $(($(now_us) - killed))) s later"
pod_transfer 5 1 2 1 5004 "$work/blob"
step "   $megabytes MB h5 -> h2 (relayed by h$other) intact in $TRANSFER_SECS s"
echo "PASS e2e.nat_pods"
