#!/usr/bin/env bash
# Self-test of tests/e2e/podman.sh: two "hosts" from tests/e2e/netns.sh (netns_setup: one
# bridge, 192.0.2.11 and 192.0.2.12), each with its own podman storage and a plain CNI conflist
# (bridge cni0 + host-local on 100.64.1.0/24 and 100.64.2.0/24), static routes for the other
# host's pod subnet over the underlay; one busybox container per host. Checks that the
# containers ping each other, that `podman rm` releases the host-local address, and that
# cleanup leaves no namespace, mount, process, cgroup or directory behind: after a normal end,
# and after child scripts that fail with containers running (one deletes its host namespace
# before cleanup). The main part uses podman.sh next to netns.sh, as the e2e tests do (netns.sh's
# trap runs podman_cleanup); the child scripts use podman.sh alone.
#   bash tests/e2e/podman_selftest.sh     (root; prints SKIP and exits 77 when podman can't run)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/podman.sh
source "$here/podman.sh"

t0=${EPOCHREALTIME/./}
podman_prereqs podman_selftest || exit 77

prefix="pst$$"
h1="$prefix-h1"
h2="$prefix-h2"
work=$(mktemp -d /tmp/podman_selftest.XXXXXX)
# netns.sh's trap (on any exit) runs these last-registered first, then deletes every namespace
# "$prefix-*", the child scripts' too if one failed to: podman_cleanup first, while the host
# namespaces still exist (CNI DEL runs inside them).
netns_at_cleanup "rm -rf --one-file-system '$work'"
netns_at_cleanup podman_cleanup

# check DESCRIPTION CMD...: runs CMD and prints the numbered outcome; never aborts the test.
# Failures are listed again at the end, where podman's own messages cannot hide them.
checks=0
failures=()
check() {
  checks=$((checks + 1))
  "${@:2}" && echo "ok   $checks $1" && return 0
  echo "FAIL $checks $1"
  failures+=("$checks $1")
}
elapsed() { printf '%d.%03d' $(((${EPOCHREALTIME/./} - t0) / 1000000)) \
  $(((${EPOCHREALTIME/./} - t0) / 1000 % 1000)); }

# write_conflist NS SUBNET: the plain CNI network "cbr0" of host NS.
write_conflist() {
  cat >"$(podman_cni_dir "$1")/10-cbr0.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cbr0",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "mtu": 1400,
      "ipam": {
        "type": "host-local",
        "dataDir": "$(podman_ipam_dir "$1")",
        "ranges": [[{"subnet": "$2"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

# leftovers DIR TOKEN: prints whatever of a run (its DIR, its podman cgroup TOKEN) survives:
# mounts, processes naming DIR, cgroups, the directory itself.
leftovers() {
  grep -F "$1" /proc/self/mountinfo || true
  local p args
  for p in /proc/[0-9]*; do
    args=()
    { mapfile -d '' -t args <"$p/cmdline"; } 2>/dev/null || continue
    [[ " ${args[*]-} " == *"$1"* && ${p#/proc/} != "$$" && ${p#/proc/} != "$BASHPID" ]] &&
      echo "process ${p#/proc/}: ${args[*]}"
  done
  find /sys/fs/cgroup -maxdepth 2 -name "shoal-e2e-$2-*" 2>/dev/null || true
  [[ ! -e $1 ]] || echo "directory $1"
}

# quiet CMD...: CMD with its output thrown away.
quiet() { "$@" >/dev/null 2>&1; }
# pings NS NAME ADDR: container NAME on host NS gets an answer from ADDR (one ping, 1 s).
pings() { podman_exec "$1" "$2" ping -c 1 -W 1 -q "$3" >/dev/null 2>&1; }

# no_process PID...: none of the PIDs runs (a zombie waiting for init to reap it is gone).
no_process() {
  local p stat
  for p in "$@"; do
    { read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
    stat=${stat##*) }
    [[ ${stat:0:1} == [ZX] ]] || return 1
  done
}
# no_path PATH...: none of the paths exists (a glob that matched nothing is not a path).
no_path() {
  local p
  for p in "$@"; do
    [[ $p == *'*'* || ! -e $p ]] || return 1
  done
}
# eth0_mtu_is NS NAME MTU: the container's eth0 has that MTU.
eth0_mtu_is() { podman_exec "$1" "$2" ip link show eth0 | grep -q "mtu $3 "; }

# peer_seen_is ADDR: c2 (host 2) sees ADDR as the source of c1's (host 1) TCP connection.
peer_seen_is() {
  local server out
  podman_exec "$h2" c2 timeout 10 nc -l -p 7000 -e netstat -tn >/dev/null 2>&1 &
  server=$!
  out=""
  wait_until 5 connect_c1_c2 && out=$(cat "$work/netstat.out")
  wait "$server" 2>/dev/null
  echo "# c2's netstat: $(grep ':7000' <<<"$out" | tr -s ' ')"
  grep -qE "[: ]$ip2:7000 +(::ffff:)?$1:[0-9]+ " <<<"$out"
}
connect_c1_c2() {
  podman_exec "$h1" c1 timeout 3 nc "$ip2" 7000 </dev/null >"$work/netstat.out" 2>&1 &&
    grep -q ':7000' "$work/netstat.out"
}

root_links_before=$(ip -o link show | wc -l)
root_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)

# ---- two hosts on netns.sh's bridge -----------------------------------------------------------
netns_setup "$prefix" 2 # namespaces $h1 and $h2, 192.0.2.11 and 192.0.2.12 on u0
for i in 1 2; do netns_exec "$i" sysctl -qw net.ipv4.ip_forward=1; done
ip -n "$h1" route add 100.64.2.0/24 via "$(netns_addr 2)" dev u0
ip -n "$h2" route add 100.64.1.0/24 via "$(netns_addr 1)" dev u0
check "the underlay works ($(netns_addr 1) pings $(netns_addr 2))" \
  wait_until 5 quiet netns_exec 1 ping -c 1 -W 1 -q "$(netns_addr 2)"

# ---- podman on each host --------------------------------------------------------------------
podman_host_init "$h1" "$work/h1"
podman_host_init "$h2" "$work/h2"
check "a second podman_host_init of a host is refused" \
  not podman_host_init "$h1" "$work/x" 2>/dev/null
check "podman_run refuses a host without its conflist" not podman_run "$h1" early 2>/dev/null
write_conflist "$h1" 100.64.1.0/24
write_conflist "$h2" 100.64.2.0/24
t=${EPOCHREALTIME/./}
podman_image_load "$h1"
podman_image_load "$h2"
echo "# image built and imported into both storages in $(((${EPOCHREALTIME/./} - t) / 1000)) ms"
check "host 1 has the image" podman_cmd "$h1" image exists "$PODMAN_IMAGE"

t=${EPOCHREALTIME/./}
podman_run "$h1" c1
podman_run "$h2" c2
echo "# two containers started in $(((${EPOCHREALTIME/./} - t) / 1000)) ms"
ip1=$(podman_ip "$h1" c1)
ip2=$(podman_ip "$h2" c2)
echo "# c1 on host 1: $ip1, c2 on host 2: $ip2"
check "c1's address is in 100.64.1.0/24 ($ip1)" test "${ip1%.*}" = 100.64.1
check "c2's address is in 100.64.2.0/24 ($ip2)" test "${ip2%.*}" = 100.64.2
check "host 1 has cni0 with 100.64.1.1/24 and MTU 1400" \
  bash -c "ip -n $h1 -o addr show cni0 | grep -q 'inet 100.64.1.1/24' &&
           ip -n $h1 link show cni0 | grep -q 'mtu 1400'"
check "c1's eth0 has MTU 1400" eth0_mtu_is "$h1" c1 1400
check "the root namespace got no device" test "$(ip -o link show | wc -l)" -eq "$root_links_before"
check "the root namespace's ip_forward is unchanged" \
  test "$(cat /proc/sys/net/ipv4/ip_forward)" = "$root_forward_before"
check "host-local's file for c2's address exists on host 2" \
  test -e "$(podman_ipam_dir "$h2")/cbr0/$ip2"

check "c1 pings c2 across the hosts" wait_until 10 pings "$h1" c1 "$ip2"
check "c2 pings c1 across the hosts" pings "$h2" c2 "$ip1"
check "c1 pings host 2's cni0 gateway" pings "$h1" c1 100.64.2.1
# The hosts route pods' traffic without NAT (ipMasq false): c2 sees c1's own address. c2's nc
# answers a connection with `netstat -tn`, which shows the peer as c2 saw it.
check "c2 sees c1's own address as the peer of a TCP connection (no NAT)" peer_seen_is "$ip1"

# ---- podman rm releases the address -----------------------------------------------------------
sandbox=$(podman_cmd "$h2" inspect --format '{{.NetworkSettings.SandboxKey}}' c2)
check "c2's network namespace is $sandbox" test -e "$sandbox"
t=${EPOCHREALTIME/./}
podman_rm "$h2" c2
echo "# podman rm took $(((${EPOCHREALTIME/./} - t) / 1000)) ms"
check "after podman rm, host-local released c2's address" \
  test ! -e "$(podman_ipam_dir "$h2")/cbr0/$ip2"
check "after podman rm, c2's network namespace is gone" test ! -e "$sandbox"
check "after podman rm, host 2 has no veth left on cni0" \
  test -z "$(ip -n "$h2" -o link show master cni0)"
check "after podman rm, podman ps -a on host 2 is empty" \
  test -z "$(podman_cmd "$h2" ps -a -q)"
check "c1 no longer reaches c2's old address" not pings "$h1" c1 "$ip2"
podman_run "$h2" c3
ip3=$(podman_ip "$h2" c3)
check "a new container on host 2 gets an address ($ip3) and c1 reaches it" \
  wait_until 5 pings "$h1" c1 "$ip3"

# ---- cleanup after a normal end -------------------------------------------------------------
token=$_podman_token
sandboxes=("${_podman_sandboxes[@]}")
t=${EPOCHREALTIME/./}
podman_cleanup
echo "# podman_cleanup took $(((${EPOCHREALTIME/./} - t) / 1000)) ms"
check "cleanup leaves nothing of $work/h1 and $work/h2" \
  test -z "$(leftovers "$work/h1" "$token")$(leftovers "$work/h2" "$token")"
check "cleanup removed every container network namespace" no_path "${sandboxes[@]}"
check "the host namespaces have no cni0 veth left" \
  test -z "$(ip -n "$h1" -o link show master cni0)$(ip -n "$h2" -o link show master cni0)"
check "cleanup twice is harmless" podman_cleanup

# ---- cleanup when a script fails with containers running ------------------------------------
# child_case N TRAP: a child script on host namespace "<prefix>-cN" starts container c9 with
# podman_run and c8 with a plain `podman_cmd run`, then fails; TRAP is its EXIT trap. Checks
# that its containers, their namespaces, CNI results, runc state, cgroups and directory are
# all gone afterwards.
child_case() {
  local n=$1 trap=$2 ns="${prefix}-c$1" dir="$work/child$1" status=0 id cpid csandbox ctoken
  local ids=() pids=() sandboxes=()
  mkdir -p "$dir"
  cat >"$dir.sh" <<EOF
set -euo pipefail
source '$here/podman.sh'
trap '$trap' EXIT
ip netns add $ns
podman_host_init $ns '$dir/h'
cat >'$dir/h/cni/cbr0.conflist' <<EOT
{"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "bridge", "bridge": "cni0",
 "isGateway": true, "ipMasq": false, "mtu": 1400, "ipam": {"type": "host-local",
 "dataDir": "$dir/h/ipam", "ranges": [[{"subnet": "100.64.3.0/24"}]]}}]}
EOT
podman_image_load $ns
podman_run $ns c9
podman_cmd $ns run -d --name c8 --network cbr0 --pull never \\
  --cgroup-parent "\$(podman_cgroup_parent $ns)" "\$PODMAN_IMAGE" sleep infinity >/dev/null
podman_cmd $ns inspect --format '{{.Id}} {{.State.Pid}} {{.NetworkSettings.SandboxKey}}' \\
  c9 c8 >'$dir/info'
echo "\$_podman_token" >'$dir/token'
false
echo unreachable
EOF
  bash "$dir.sh" >"$dir.out" 2>&1 || status=$?
  while read -r id cpid csandbox; do
    ids+=("$id")
    pids+=("$cpid")
    sandboxes+=("$csandbox")
  done <"$dir/info"
  ctoken=$(cat "$dir/token" 2>/dev/null || echo none)
  check "child $n: exits non-zero ($status)" test "$status" -ne 0
  check "child $n: did not run past the failure" not grep -q unreachable "$dir.out"
  check "child $n: started 2 containers" test "${#ids[@]}" -eq 2
  check "child $n: its container processes (${pids[*]}) are gone" no_process "${pids[@]}"
  check "child $n: its container network namespaces are gone" no_path "${sandboxes[@]}"
  for id in "${ids[@]}"; do
    check "child $n: no CNI result or runc state of ${id:0:12} remains" \
      no_path /var/lib/cni/results/*-"$id"-* /run/runc/"$id"
  done
  check "child $n: nothing else of it remains" test -z "$(leftovers "$dir/h" "$ctoken")"
  check "child $n: its host namespace is gone" no_path "/run/netns/$ns"
  grep '^# podman:' "$dir.out" | sed "s/^# /# child $n: /" || true
}
t=${EPOCHREALTIME/./}
child_case 1 "podman_cleanup; ip netns del ${prefix}-c1"
echo "# child 1 took $(((${EPOCHREALTIME/./} - t) / 1000)) ms"
# The wrong order: the host namespace goes first, so `podman rm` cannot run its CNI DEL.
t=${EPOCHREALTIME/./}
child_case 2 "ip netns del ${prefix}-c2; podman_cleanup"
echo "# child 2 took $(((${EPOCHREALTIME/./} - t) / 1000)) ms"

echo "# podman_selftest took $(elapsed) s"
echo "podman_selftest: $((checks - ${#failures[@]})) passed, ${#failures[@]} failed"
for f in ${failures[@]+"${failures[@]}"}; do echo "  FAIL $f"; done
((${#failures[@]} == 0))
