#!/usr/bin/env bash
# e2e.podman: shoal in the container world. Real shoal agents (vxlan, a cluster key, overlay
# 198.18.0.0/16) in network-namespace hosts on one underlay (192.0.2.0/24), and on every host a
# real podman (Debian 12's podman 4.3, CNI backend, runc; tests/e2e/podman.sh) whose only
# network is a conflist with shoal-cni reading that host's subnet.env. Busybox containers:
# 1. Three hosts with agents: they agree on 3 leases, each writes subnet.env.
# 2. One container per host: its address is in its host's subnet (subnet.env's FLANNEL_SUBNET
#    and `shoal status --json` agree), its eth0 has the agent's MTU, and every container pings
#    every container on the other hosts.
# 3. `podman rm` of a container releases its address (host-local's file under the ipam dataDir
#    goes) and shoal-cni's kept attachment file goes too.
# 4. Host 4: `podman run` starts before the host's agent; shoal-cni waits for subnet.env
#    (waitSeconds 30), the agent starts a few seconds later, and the container comes up with
#    an address in host 4's subnet and pings the containers on hosts 1-3; c1 pings it back and
#    sees a TCP connection from it come from its own address (the agents run with --ip-masq
#    true, as kube-flannel runs flannel: no NAT between pods).
# 5. A transcript for the reader: `podman ps` on every host, the addresses, a cross-host ping.
# Every wait is bounded; namespaces, containers, storages and processes go on any exit
# (netns.sh's trap, which runs podman_cleanup while the hosts still exist).
#
#   bash tests/e2e/podman_pods_test.sh PATH/TO/shoal PATH/TO/shoal-cni
#   (root; prints one SKIP line and exits 77 otherwise, or when podman cannot run here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage="usage: $0 PATH/TO/shoal PATH/TO/shoal-cni"
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/e2e/pods.sh
source "$here/pods.sh"
# shellcheck source=tests/e2e/podman.sh
source "$here/podman.sh"
require_root "e2e.podman"
shoal=$(realpath "${1:?$usage}")
plugin=$(realpath "${2:?$usage}")
podman_prereqs "e2e.podman" || exit 77
need_packages jq
t0=$(now_us)

hosts=(1 2 3)  # hosts with an agent from the start; host 4's comes in step 4
net=shoal      # the CNI network's name
wait_cni=30    # shoal-cni's waitSeconds
late=3         # seconds between host 4's `podman run` and its agent's start

work=$(mktemp -d /tmp/shoal-podman-XXXXXX)
netns_at_cleanup "rm -rf --one-file-system '$work'"
netns_at_cleanup podman_cleanup # runs before the rm above, and before the namespaces go
netns_setup "pp$$" 4
"$shoal" keygen >"$work/key" && chmod 600 "$work/key"
# The CNI plugin directories: ours first (shoal-cni), then Debian's bridge and host-local.
mkdir -p "$work/bin"
ln -s "$plugin" "$work/bin/shoal-cni"
PODMAN_CNI_PLUGIN_DIRS="$work/bin:/usr/lib/cni"

ns() { netns_name "$1"; } # ns I: host I's namespace, podman's "host"
pm() { podman_cmd "$(ns "$1")" "${@:2}"; } # pm I ARG...: podman ARG... on host I

AGENT_FLAGS=(--backend vxlan --key-file "$work/key" --ip-masq true)  # for cluster.sh's start_agent
# status_of I FIELD: a field of agent I's `shoal status --json` ("subnet", "podMtu", ...).
status_of() { ctl "$1" status --json 2>/dev/null | jq -r --arg f "$2" '.status[$f] // empty'; }
# in_subnet ADDR NET: ADDR lies in NET ("198.18.5.0/24").
in_subnet() { [[ $(pods_network "$1/${2#*/}") == "$2" ]]; }
# pings I NAME ADDR...: container NAME on host I gets an answer from every ADDR.
pings() {
  local i=$1 name=$2
  shift 2
  # shellcheck disable=SC2016 # expanded by the container's shell
  pm "$i" exec "$name" sh -c 'for a; do ping -c 1 -W 1 -q "$a" >/dev/null || exit 1; done' \
    sh "$@" 2>/dev/null
}
# seen_source I NAME J PEER: the address container NAME on host I sees as the source of a TCP
# connection from container PEER on host J (NAME's busybox nc answers with `netstat -tn`).
seen_source() {
  local i=$1 name=$2 j=$3 peer=$4 server
  rm -f "$work/netstat.out"
  pm "$i" exec "$name" timeout 10 nc -l -p 7000 -e netstat -tn >/dev/null 2>&1 &
  server=$!
  wait_until 5 connect_to "$j" "$peer" "${addr[$name]}" || true
  wait "$server" 2>/dev/null || true
  # "tcp 0 0 ::ffff:198.18.1.2:7000 ::ffff:198.18.2.2:41234 ESTABLISHED": nc listens on ::
  awk '$4 ~ /:7000$/ { sub(/:[0-9]+$/, "", $5); sub(/^::ffff:/, "", $5); print $5; exit }' \
    "$work/netstat.out" 2>/dev/null
}
connect_to() {  # connect_to J PEER ADDR: PEER on host J gets netstat's answer from ADDR:7000
  pm "$1" exec "$2" timeout 3 nc "$3" 7000 </dev/null >"$work/netstat.out" 2>&1 &&
    grep -q ':7000 ' "$work/netstat.out"
}
# attachment I ID: shoal-cni's kept bridge config of container ID on host I.
attachment() { echo "$work/cni$1/$net/$2-eth0.json"; }
# leased I ADDR: host-local on host I holds ADDR.
leased() { [[ -e $(podman_ipam_dir "$(ns "$1")")/$net/$2 ]]; }
on_fail() {  # fail's extra diagnostics (cluster.sh)
  local i
  for i in 1 2 3 4; do
    echo "--- host $i: podman ps -a; subnet.env"
    pm "$i" ps -a 2>&1 || true
    cat "$work/h$i/subnet.env" 2>&1 || true
  done
  [[ ! -s $work/c4.run ]] || { echo "--- host 4's background podman run:"; cat "$work/c4.run"; }
}
FAIL_LOG_LINES=20

step "1. three hosts with agents; four podman hosts, each with a shoal conflist"
for i in "${hosts[@]}"; do start_agent "$i"; done
# While the agents gossip: the podman hosts, their conflists, the busybox image.
for i in 1 2 3 4; do
  podman_host_init "$(ns "$i")" "$work/podman$i" "$net"
  jq -n --arg net "$net" --arg env "$work/h$i/subnet.env" --arg dir "$work/cni$i" \
    --arg ipam "$(podman_ipam_dir "$(ns "$i")")" --argjson wait "$wait_cni" \
    '{cniVersion: "1.0.0", name: $net,
      plugins: [{type: "shoal-cni", subnetFile: $env, dataDir: $dir, waitSeconds: $wait,
                 delegate: {ipam: {dataDir: $ipam}}}]}' \
    >"$(podman_cni_dir "$(ns "$i")")/10-shoal.conflist"
  # A conflist whose plugin fails podman's check (VERSION) is skipped with a mere warning, and
  # podman then makes a bridge network of that name on its default_subnet: be sure it is ours.
  driver=$(pm "$i" network inspect --format '{{.Driver}}' "$net" 2>"$work/network.err") || true
  [[ $driver == shoal-cni ]] ||
    fail "podman on host $i does not use the shoal conflist (driver '$driver'): $(cat "$work/network.err")"
  podman_image_load "$(ns "$i")" || fail "could not import the busybox image on host $i"
done
step "   podman storages ready after $(us_to_secs $(($(now_us) - t0))) s"
wait_until 30 same_leases 3 "${hosts[@]}" || fail "the agents do not list the same 3 leases"
declare -A subnet=() # host -> its pod subnet
for i in "${hosts[@]}"; do
  wait_until 10 test -f "$work/h$i/subnet.env" || fail "h$i wrote no subnet.env"
  subnet[$i]=$(env_subnet "$i")
  [[ $(status_of "$i" subnet) == "${subnet[$i]}" ]] ||
    fail "h$i: subnet.env says ${subnet[$i]}, shoal status --json says $(status_of "$i" subnet)"
done
step "   3 leases after $(us_to_secs $(($(now_us) - t0))) s: ${subnet[1]} ${subnet[2]} ${subnet[3]}"

step "2. a container per host: addresses in the host's subnet, pings between all hosts"
declare -A addr=() # container -> its address
for i in "${hosts[@]}"; do
  podman_run "$(ns "$i")" "c$i" || fail "podman run c$i on host $i failed"
  addr[c$i]=$(podman_ip "$(ns "$i")" "c$i") || fail "c$i has no address"
  in_subnet "${addr[c$i]}" "${subnet[$i]}" ||
    fail "c$i got ${addr[c$i]}, outside host $i's subnet ${subnet[$i]}"
done
mtu=$(env_value 1 FLANNEL_MTU)
[[ $(status_of 1 podMtu) == "$mtu" ]] || fail "h1: FLANNEL_MTU $mtu, status podMtu $(status_of 1 podMtu)"
[[ $(pm 1 exec c1 cat /sys/class/net/eth0/mtu) == "$mtu" ]] ||
  fail "c1's eth0 does not have the agent's MTU $mtu"
for i in "${hosts[@]}"; do
  others=()
  for j in "${hosts[@]}"; do [[ $j == "$i" ]] || others+=("${addr[c$j]}"); done
  wait_until 15 pings "$i" "c$i" "${others[@]}" || fail "c$i does not reach ${others[*]}"
done
step "   c1 ${addr[c1]}, c2 ${addr[c2]}, c3 ${addr[c3]}: all 6 cross-host pairs ping"

step "3. podman rm releases the address and shoal-cni's attachment"
podman_run "$(ns 2)" gone || fail "podman run gone on host 2 failed"
gone_ip=$(podman_ip "$(ns 2)" gone) || fail "gone has no address"
gone_id=$(pm 2 inspect --format '{{.Id}}' gone)
leased 2 "$gone_ip" || fail "host-local holds no file for gone's $gone_ip"
[[ $(jq -r .containerID "$(attachment 2 "$gone_id")" 2>/dev/null) == "$gone_id" ]] ||
  fail "shoal-cni kept no attachment $(attachment 2 "$gone_id")"
podman_rm "$(ns 2)" gone || fail "podman rm gone failed"
leased 2 "$gone_ip" && fail "host-local still holds $gone_ip after podman rm"
[[ -e $(attachment 2 "$gone_id") ]] && fail "shoal-cni's attachment of gone is still there"
step "   gone had $gone_ip; after podman rm no ipam file, no attachment file"

step "4. host 4: podman run first, its agent ${late} s later"
started=$(now_us)
podman_run "$(ns 4)" c4 >"$work/c4.run" 2>&1 &
runner=$!
# runner_runs: the background `podman run` is still our running job (not merely a live PID).
runner_runs() { jobs -pr | grep -qx "$runner"; }
# If the test fails while it waits: the job goes first, its podman in podman_cleanup.
# shellcheck disable=SC2016 # expanded when the cleanup runs
netns_at_cleanup 'runner_runs && kill "$runner"'
sleep "$late"
runner_runs || fail "podman run on host 4 returned before its agent started"
[[ ! -e $work/h4/subnet.env ]] || fail "host 4 has a subnet.env before its agent ran"
start_agent 4
wait_until $((wait_cni + 10)) not runner_runs ||
  fail "podman run on host 4 still runs $((wait_cni + 10)) s after the agent started"
status=0
wait "$runner" || status=$?
((status == 0)) || fail "podman run on host 4 failed ($status): $(cat "$work/c4.run")"
took=$(us_to_secs $(($(now_us) - started)))
subnet[4]=$(env_subnet 4) || fail "h4 has no subnet.env"
[[ $(status_of 4 subnet) == "${subnet[4]}" ]] ||
  fail "h4: subnet.env says ${subnet[4]}, shoal status --json says $(status_of 4 subnet)"
addr[c4]=$(podman_ip "$(ns 4)" c4) || fail "c4 has no address"
in_subnet "${addr[c4]}" "${subnet[4]}" || fail "c4 got ${addr[c4]}, outside ${subnet[4]}"
wait_until 20 pings 4 c4 "${addr[c1]}" "${addr[c2]}" "${addr[c3]}" ||
  fail "c4 does not reach c1 ${addr[c1]}, c2 ${addr[c2]} and c3 ${addr[c3]}"
reached=$(us_to_secs "$WAIT_ELAPSED_US")
pings 1 c1 "${addr[c4]}" || fail "c1 does not reach c4 ${addr[c4]}"
step "   podman run waited, returned after $took s; c4 ${addr[c4]} in ${subnet[4]} pings c1-c3 (after $reached s)"
# --ip-masq true: the agents masquerade only what leaves the overlay, so c1 sees c4's own address.
seen=$(seen_source 1 c1 4 c4)
[[ $seen == "${addr[c4]}" ]] || fail "c1 saw c4's connection come from '$seen', not c4's ${addr[c4]}"
step "   c1 sees c4's TCP connection come from c4's own address $seen (no NAT between pods)"

step "5. the session, as an operator would see it"
fmt='table {{.ID}} {{.Image}} {{.Command}} {{.Status}} {{.Names}}'
for i in 1 2 3 4; do
  echo "[h$i, $(netns_addr "$i"), subnet ${subnet[$i]}]\$ podman ps --format '$fmt'"
  pm "$i" ps --format "$fmt"
done
fmt="{{.Name}} {{.NetworkSettings.Networks.$net.IPAddress}}"
for i in 1 2 3 4; do
  echo "[h$i]\$ podman inspect --format '$fmt' c$i"
  pm "$i" inspect --format "$fmt" "c$i"
done
echo "[h4]\$ podman exec c4 ping -c 3 -i 0.2 ${addr[c1]}   # c1, on h1"
pm 4 exec c4 ping -c 3 -i 0.2 "${addr[c1]}" || fail "the closing ping from c4 to c1 failed"
echo "PASS: e2e.podman in $(us_to_secs $(($(now_us) - t0))) s"
