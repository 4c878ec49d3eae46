#!/usr/bin/env bash
# e2e.cni: shoal-cni against the real bridge and host-local plugins (Debian's
# containernetworking-plugins) in a network namespace, every verb of the spec: ADD gives a pod
# an address in the host's subnet with the MTU and the route to the overlay, CHECK passes,
# DEL releases the address even after subnet.env went away, ADD waits for a subnet.env that
# comes late and gives up with a CNI error when none comes, GC releases what the runtime no
# longer lists, STATUS says whether the host has a subnet, and bad input gets the spec's
# error codes. No agent runs: subnet.env is written by hand, as the agent would write it.
# (The whole path with agents and a container runtime is e2e.podman.)
#
#   bash tests/e2e/cni_test.sh build/release/cni/shoal-cni
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
plugin=$(realpath "${1:?usage: cni_test.sh PATH/TO/shoal-cni}")
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.cni"
need_packages containernetworking-plugins iptables jq

work=$(mktemp -d /tmp/shoal-cni.XXXXXX)
netns_at_cleanup "rm -rf $work"

netns_setup "cni$$" 1
mkdir -p "$work/bin"
ln -s "$plugin" "$work/bin/shoal-cni"
ln -s /usr/lib/cni/bridge "$work/bin/bridge"
ln -s /usr/lib/cni/host-local "$work/bin/host-local"

write_env() {  # write_env SUBNET: subnet.env as the agent writes it (198.18.0.0/16 overlay)
  printf 'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n' \
    "$1" >"$work/subnet.env.tmp"
  mv "$work/subnet.env.tmp" "$work/subnet.env"
}
conf() {  # conf [VERSION [EXTRA_JSON]]: the network configuration on stdin
  jq -n --arg v "${1:-1.0.0}" --arg env "$work/subnet.env" --arg dir "$work/cni" \
    --arg ipam "$work/ipam" --argjson extra "${2:-{\}}" \
    '{cniVersion: $v, name: "shoal-test", type: "shoal-cni", subnetFile: $env, dataDir: $dir,
      waitSeconds: 3, delegate: {ipam: {dataDir: $ipam}}} + $extra'
}
cni() {  # cni COMMAND POD [VERSION [EXTRA_JSON]]: runs shoal-cni in host 1; stdout is its answer
  local cmd=$1 pod=$2
  conf "${3:-1.0.0}" "${4:-{\}}" | netns_exec 1 env CNI_COMMAND="$cmd" \
    CNI_CONTAINERID="cni$$-$pod" CNI_NETNS="/var/run/netns/${NETNS_PREFIX}-$pod" CNI_IFNAME=eth0 \
    CNI_PATH="$work/bin" "$work/bin/shoal-cni"
}
error_code() { jq -r .code <<<"$1"; }
leased() { [[ -e $work/ipam/shoal-test/$1 ]]; }  # host-local holds address $1

write_env 198.18.7.1/24

step "ADD: pod p1 gets an address in 198.18.7.0/24, the MTU, the route to the overlay"
netns_add_extra p1
r1=$(cni ADD p1) || fail "ADD p1 failed: $r1"
ip1=$(jq -r '.ips[0].address' <<<"$r1")
[[ $ip1 == 198.18.7.*/24 ]] || fail "p1 got $ip1, not an address in 198.18.7.0/24: $r1"
[[ $(jq -r .cniVersion <<<"$r1") == 1.0.0 ]] || fail "result version: $r1"
ip1=${ip1%/*}
pod1() { ip netns exec "${NETNS_PREFIX}-p1" "$@"; }
[[ $(pod1 cat /sys/class/net/eth0/mtu) == 1400 ]] || fail "p1's MTU is not FLANNEL_MTU 1400"
pod1 ip -4 route show 198.18.0.0/16 | grep -q "via 198.18.7.1" || fail "p1 has no route to the overlay"
pod1 ping -c1 -W2 -q 198.18.7.1 >/dev/null || fail "p1 cannot ping its gateway"
leased "$ip1" || fail "host-local does not hold $ip1"
# FLANNEL_IPMASQ=true: the agent masquerades, so the bridge must not.
if netns_exec 1 iptables -t nat -S 2>/dev/null | grep -q "198.18.7"; then
  fail "bridge masquerades although FLANNEL_IPMASQ=true"
fi

step "CHECK with the ADD's result passes; the 1.1.0 verbs work"
r=$(cni CHECK p1 1.0.0 "{\"prevResult\": $r1}") || fail "CHECK p1 failed: $r"
r=$(cni ADD p2 1.1.0 2>&1) && fail "ADD into a missing namespace succeeded: $r"
netns_add_extra p2
r2=$(cni ADD p2 1.1.0) || fail "ADD p2 (cniVersion 1.1.0) failed: $r2"
[[ $(jq -r .cniVersion <<<"$r2") == 1.1.0 ]] || fail "a 1.1.0 request got a $(jq -r .cniVersion <<<"$r2") result"
ip2=$(jq -r '.ips[0].address' <<<"$r2")
ip2=${ip2%/*}
[[ $ip2 != "$ip1" ]] || fail "p1 and p2 got the same address"
pod1 ping -c1 -W2 -q "$ip2" >/dev/null || fail "p1 cannot ping p2"
cni STATUS - 1.1.0 >/dev/null || fail "STATUS failed with subnet.env in place"

step "DEL after subnet.env is gone still releases the address (the kept delegate config)"
rm "$work/subnet.env"
cni DEL p2 >/dev/null || fail "DEL p2 without subnet.env failed"
leased "$ip2" && fail "host-local still holds p2's $ip2 after DEL"
cni DEL p2 >/dev/null || fail "a second DEL of p2 failed (DEL must be idempotent)"
r=$(cni STATUS - 1.1.0) && fail "STATUS succeeded without subnet.env"
[[ $(error_code "$r") == 50 ]] || fail "STATUS without subnet.env: $r"

step "ADD waits for a subnet.env that comes late, and gives up with code 11 when none comes"
netns_add_extra p3
(sleep 1 && write_env 198.18.7.1/24) &
late=$!
start=$(date +%s%N)
r3=$(cni ADD p3) || fail "ADD p3 did not wait for subnet.env: $r3"
wait "$late"
waited=$((($(date +%s%N) - start) / 1000000))
((waited >= 900)) || fail "ADD p3 returned after ${waited} ms, before subnet.env existed"
rm "$work/subnet.env"
netns_add_extra p4
r=$(cni ADD p4 1.0.0 '{"waitSeconds": 1}') && fail "ADD without subnet.env succeeded: $r"
[[ $(error_code "$r") == 11 ]] || fail "ADD without subnet.env: wanted code 11: $r"
grep -q "is not there after 1 s" <<<"$r" || fail "the error does not say what is missing: $r"
write_env 198.18.7.1/24

step "GC releases attachments the runtime no longer lists"
ip3=$(jq -r '.ips[0].address' <<<"$r3")
ip3=${ip3%/*}
valid="{\"cni.dev/valid-attachments\": [{\"containerID\": \"cni$$-p1\", \"ifname\": \"eth0\"}]}"
cni GC - 1.1.0 "$valid" >/dev/null || fail "GC failed"
leased "$ip3" && fail "GC left p3's $ip3 leased"
leased "$ip1" || fail "GC released p1's $ip1, which the runtime still uses"

step "bad input gets CNI errors with the spec's codes"
r=$(echo '{"cniVersion": "1.0.0", "name": ' | netns_exec 1 env CNI_COMMAND=ADD CNI_CONTAINERID=x \
  CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$work/bin" "$plugin") && fail "bad JSON accepted"
[[ $(error_code "$r") == 6 ]] || fail "bad JSON: wanted code 6: $r"
r=$(cni FROB p1) && fail "unknown command accepted"
[[ $(error_code "$r") == 4 ]] || fail "unknown command: wanted code 4: $r"
r=$(cni ADD p1 9.9.9) && fail "cniVersion 9.9.9 accepted"
[[ $(error_code "$r") == 1 ]] || fail "unsupported version: wanted code 1: $r"
write_env 198.19.7.1/24
r=$(cni ADD p4) && fail "a subnet.env outside its network accepted: $r"
[[ $(error_code "$r") == 7 ]] && grep -q "outside FLANNEL_NETWORK" <<<"$r" ||
  fail "subnet outside the network: wanted code 7 saying so: $r"
write_env 198.18.7.1/24
r=$(cni VERSION p1 1.1.0)
jq -e '.supportedVersions | index("1.1.0") and index("0.4.0")' <<<"$r" >/dev/null ||
  fail "VERSION: $r"
netns_exec 1 "$plugin" --help | grep -q "subnetFile" || fail "--help does not explain subnetFile"

step "DEL p1 and p3: every address back"
cni DEL p1 >/dev/null && cni DEL p3 >/dev/null || fail "DEL failed"
leased "$ip1" && fail "p1's $ip1 still leased"
left=$(find "$work/cni" -type f | wc -l)
((left == 0)) || fail "$left attachment file(s) left in $work/cni"
echo "PASS: e2e.cni"
