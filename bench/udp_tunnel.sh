#!/usr/bin/env bash
# bench/udp_tunnel.sh: TCP throughput and CPU cost of userspace UDP tunnels between two network
# namespaces, side by side in one run (root): the bare underlay, a hand-made kernel vxlan, the
# Debian packages of nebula, wireguard-go, tinc and fastd, and shoal's own udp tunnel.
#
# Topology (tests/e2e/netns.sh, 2 hosts): namespaces ut<PID>-h1 (A) and ut<PID>-h2 (B) on one
# bridge, underlay 192.0.2.11 and 192.0.2.12 on device u0. Overlay addresses, one /24 per case:
#   vxlan 100.64.1.0/24, nebula 100.64.2.0/24, wireguard_go 100.64.3.0/24, tinc 100.64.4.0/24,
#   fastd 100.64.5.0/24, udp_plain 100.64.6.0/24, udp_enc 100.64.7.0/24 (A is .1, B is .2).
# Every case builds its tunnel, checks that one ping from A reaches B's overlay address (else
# prints `# CASE: skipped: WHY` and goes on), runs iperf3 (Debian's) from A to B for
# UT_SECONDS with 1 and with 4 TCP streams, and tears the tunnel down again.
#
# Figures (other lines start with '#'):
#   tput.CASE.pP           Gbit/s         receiver's throughput (iperf3 -J, sum_received), P = 1, 4
#   cpu_per_gbit.CASE      %core/Gbit/s   userspace cases only: utime+stime of the tunnel's
#                                         processes in both namespaces during the -P1 run (from
#                                         /proc/PID/stat), as percent of one core, per Gbit/s.
#                                         Softirq work the kernel does for them is not in it.
#   ratio.plain_veth.p1     x   udp_plain / veth
#   ratio.enc_best_peer.p1  x   udp_enc / max(nebula, wireguard_go)
#   ratio.best_peer_veth.p1 x   max(nebula, wireguard_go) / veth
#   (a ratio is printed only when both of its sides were measured)
# CASE is veth, vxlan, nebula (cipher aes), wireguard_go, tinc (router mode, aes-256-cbc and
# sha256 instead of 1.0's blowfish/sha1 defaults), fastd (method "null": no encryption, tun
# mode), udp_plain, udp_enc.
# Environment: UT_SECONDS (5) per iperf3 run; UT_CASES (all, in the order above; or a
# space-separated list, run in its order); UT_KEEP_LOGS=DIR copies the tunnels' logs there
# before cleanup.
#
# Missing peers are installed from Debian (apt-get install --no-install-recommends, and
# apt-get update once if that fails); a case whose package cannot be had is skipped.
#
# The shoal hook (udp_plain, udp_enc). When the shoal binary (build/release/cli/shoal, where
# scripts/bench builds it, or build/release/shoal) and bench/udp_tunnel_shoal.sh both exist, the
# latter is sourced once, at the top level (so it must not replace the EXIT trap: it registers
# cleanups with netns_at_cleanup). It must define
#   shoal_tunnel_up MODE NS_A NS_B   MODE is plain or enc, NS_A/NS_B the namespace names. Brings
#                                    the tunnel up, prints B's overlay address (the last line of
#                                    its stdout counts; stdout is a file, so daemons may inherit
#                                    it), sets SHOAL_PIDS (a string or an array) to the PIDs of
#                                    the tunnel's processes in both namespaces, and returns 0.
#                                    Non-zero means "skipped"; a reason may go to stderr.
# and may define
#   shoal_tunnel_down MODE           called after the case; the script kills SHOAL_PIDS anyway
#                                    (TERM, KILL after 3 s), and cleanup kills anything left in
#                                    the namespaces.
# shoal_tunnel_up runs in this shell (not in $(...)) with no time limit of its own, so it must
# bound its own waits. It may use SHOAL_BIN (the binary), UT_WORK (a temp dir for the case,
# removed at exit), UT_ADDR_A and UT_ADDR_B (underlay addresses), UT_OVERLAY (the /24 to use,
# see above) and the functions of tests/e2e/netns.sh, where host 1 is NS_A and host 2 is NS_B
# (netns_spawn 1 LOG CMD... starts CMD in A and sets NETNS_LAST_PID). The address it prints
# must lie in 100.64.0.0/10 or 198.18.0.0/15.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
require_root udp_tunnel
seconds=${UT_SECONDS:-5}
if [[ ! $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "# UT_SECONDS must be a positive integer" >&2
  exit 2
fi
all_cases="veth vxlan nebula wireguard_go tinc fastd udp_plain udp_enc"
cases=${UT_CASES:-$all_cases}
hz=$(getconf CLK_TCK)
shoal_bin=""
for b in "$root/build/release/cli/shoal" "$root/build/release/shoal"; do
  if [[ -x $b ]]; then shoal_bin=$b; break; fi
done

# need_bin BINARY PACKAGE: installs PACKAGE when BINARY is not on the PATH (apt-get update once
# when the first try fails). Non-zero when BINARY is still missing.
apt_updated=0
need_bin() {
  command -v "$1" >/dev/null && return 0
  echo "# installing $2" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 300 apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1; then
    if ((!apt_updated)); then
      apt_updated=1
      timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    fi
    timeout 300 apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 || true
  fi
  command -v "$1" >/dev/null
}
for pair in iperf3:iperf3 ping:iputils-ping jq:jq ss:iproute2; do
  need_bin "${pair%%:*}" "${pair#*:}" || { echo "# cannot install ${pair#*:}" >&2; exit 1; }
done

work=$(mktemp -d /tmp/shoal-bench-udp-tunnel-XXXXXX)
keep_logs() {
  [[ -n ${UT_KEEP_LOGS:-} ]] || return 0
  mkdir -p "$UT_KEEP_LOGS" && find "$work" -name '*.log' -exec cp -t "$UT_KEEP_LOGS" {} +
}
# Registered first, so it runs last of ours (netns_at_cleanup runs last-registered first).
netns_at_cleanup "rm -rf '$work'"
netns_at_cleanup "rm -f /var/run/wireguard/wg1-$$.sock /var/run/wireguard/wg2-$$.sock"
netns_at_cleanup "stop_tunnel"
netns_at_cleanup "keep_logs"
netns_setup "ut$$" 2
ns_a=$(netns_name 1)
ns_b=$(netns_name 2)
addr_a=$(netns_addr 1)
addr_b=$(netns_addr 2)
echo "# udp_tunnel: $ns_a ($addr_a) -> $ns_b ($addr_b), $seconds s per iperf3 run, $(nproc) cores"

# ---- processes: the tunnel's PIDs, each with its start time so a reused PID is never hit -----
tun_pids=()   # PIDs of the current case's tunnel processes (both namespaces)
tun_starts=() # their start times (field 22 of /proc/PID/stat)

# proc_field PID N: field N (counted after "pid (comm)", state is 1) of /proc/PID/stat.
proc_field() {
  local line f
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  read -ra f <<<"$line"
  echo "${f[$2 - 1]}"
}
# track PID: adds PID to the case's tunnel processes.
track() {
  local start
  start=$(proc_field "$1" 20) || { echo "# process $1 is gone already" >&2; return 1; }
  tun_pids+=("$1")
  tun_starts+=("$start")
}
# tracked_alive K: tunnel process K still runs and is the one tracked.
tracked_alive() {
  local start state
  start=$(proc_field "${tun_pids[$1]}" 20) || return 1
  state=$(proc_field "${tun_pids[$1]}" 1) || return 1
  [[ $start == "${tun_starts[$1]}" && $state != Z ]]
}
any_tracked_alive() {
  local k
  for k in "${!tun_pids[@]}"; do tracked_alive "$k" && return 0; done
  return 1
}
all_tracked_alive() {
  local k
  ((${#tun_pids[@]} > 0)) || return 1
  for k in "${!tun_pids[@]}"; do tracked_alive "$k" || return 1; done
}
# signal_tracked SIG: sends SIG to the tracked processes (to the whole group when it leads one).
signal_tracked() {
  local k pid
  for k in "${!tun_pids[@]}"; do
    tracked_alive "$k" || continue
    pid=${tun_pids[$k]}
    if [[ $(proc_field "$pid" 3) == "$pid" ]]; then
      kill -s "$1" -- "-$pid" 2>/dev/null || true
    else
      kill -s "$1" "$pid" 2>/dev/null || true
    fi
  done
}
# stop_tunnel: TERM to the tunnel's processes, KILL after 3 s; forgets them.
stop_tunnel() {
  ((${#tun_pids[@]} > 0)) || return 0
  signal_tracked TERM
  WAIT_INTERVAL=0.1 wait_until 3 not any_tracked_alive || signal_tracked KILL
  WAIT_INTERVAL=0.1 wait_until 2 not any_tracked_alive ||
    echo "# tunnel processes ${tun_pids[*]} did not stop"
  tun_pids=()
  tun_starts=()
}
# cpu_ticks: utime+stime of the tracked processes (all their threads), in clock ticks.
cpu_ticks() {
  local k sum=0 u s
  for k in "${!tun_pids[@]}"; do
    tracked_alive "$k" || continue
    u=$(proc_field "${tun_pids[$k]}" 12) || continue
    s=$(proc_field "${tun_pids[$k]}" 13) || continue
    sum=$((sum + u + s))
  done
  echo "$sum"
}
# spawn I NAME CMD...: starts CMD in host I (log $work/NAME.log) and tracks it.
spawn() {
  local i=$1 name=$2
  shift 2
  netns_spawn "$i" "$work/$name.log" "$@"
  track "$NETNS_LAST_PID"
}

# ---- measuring -------------------------------------------------------------------------------
declare -A tput=()
dev_up() { netns_exec "$1" ip link show dev "$2" >/dev/null 2>&1; }
tcp_listening() { netns_exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; }

# iperf_run DST P: one iperf3 run from A to DST with P streams; sets run_gbit (empty when it
# failed), run_ticks (the tunnel's CPU in ticks) and run_us (wall time of the client).
iperf_run() {
  local dst=$1 p=$2 json t0 c0 srv
  run_gbit="" run_ticks=0 run_us=0
  netns_spawn 2 "$work/iperf3-server.log" timeout $((seconds + 30)) iperf3 -s -1 -B "$dst"
  srv=$NETNS_LAST_PID
  if ! WAIT_INTERVAL=0.05 wait_until 5 tcp_listening 2 5201; then
    echo "# iperf3 server did not listen on $dst"
    netns_kill 2 TERM "$srv"
    return 1
  fi
  c0=$(cpu_ticks)
  t0=$(now_us)
  json=$(netns_exec 1 timeout $((seconds + 20)) iperf3 -c "$dst" -t "$seconds" -P "$p" -J \
    --connect-timeout 3000 2>>"$work/iperf3-client.log") || true
  run_us=$(($(now_us) - t0))
  run_ticks=$(($(cpu_ticks) - c0))
  run_gbit=$(jq -r '.end.sum_received.bits_per_second // empty | . / 1e9 * 1000 | round / 1000' \
    <<<"$json" 2>/dev/null) || run_gbit=""
  if [[ -z $run_gbit ]]; then
    echo "# iperf3 -P $p to $dst failed: $(jq -r '.error // "no JSON"' <<<"$json" 2>/dev/null | head -1)"
  fi
  # The one-off server ends by itself after the test; make sure before the next run.
  WAIT_INTERVAL=0.05 wait_until 5 not netns_alive_pid "$srv" || netns_kill 2 KILL "$srv"
  [[ -n $run_gbit ]]
}
# netns_alive_pid PID: PID (one netns_spawn started) still runs.

# measure CASE DST CPU: the -P1 and -P4 figures; CPU=1 prints cpu_per_gbit too.
measure() {
  local name=$1 dst=$2 cpu=$3 p
  for p in 1 4; do
    iperf_run "$dst" "$p" || continue
    tput[$name.p$p]=$run_gbit
    echo "figure tput.$name.p$p $run_gbit Gbit/s"
    if ((p == 1 && cpu)); then
      awk -v t="$run_ticks" -v hz="$hz" -v us="$run_us" -v g="$run_gbit" -v n="$name" 'BEGIN {
        pct = t / hz / (us / 1e6) * 100
        printf "# %s: tunnel processes used %.1f %% of a core at -P1\n", n, pct
        if (g > 0) printf "figure cpu_per_gbit.%s %.1f %%core/Gbit/s\n", n, pct / g }'
    fi
  done
  if ((cpu)) && ! all_tracked_alive; then echo "# $name: a tunnel process died during the runs"; fi
}

# run_case CASE: up_CASE builds the tunnel and sets dst (and skip_why on failure); then the ping
# check, the figures, down_CASE (when defined) and stop_tunnel.
run_case() {
  local name=$1 cpu=1
  [[ $name == veth || $name == vxlan ]] && cpu=0
  dst="" skip_why="setup failed"
  echo "# $name"
  if ! "up_$name"; then
    echo "# $name: skipped: $skip_why"
  elif ! WAIT_INTERVAL=0.3 wait_until 15 netns_exec 1 ping -c1 -W1 -q "$dst" >/dev/null 2>&1; then
    echo "# $name: skipped: no ping from A to $dst within 15 s"
  elif ((cpu)) && ! all_tracked_alive; then
    echo "# $name: skipped: a tunnel process exited"
  else
    measure "$name" "$dst" "$cpu"
  fi
  if declare -F "down_$name" >/dev/null; then "down_$name" || true; fi
  stop_tunnel
}

# ---- the cases -------------------------------------------------------------------------------
# Each up_CASE returns non-zero with skip_why set when it cannot build its tunnel; on success it
# sets dst to B's overlay address. Tunnel processes are started with spawn (tracked).
# addr_up I DEV ADDR/LEN: puts the overlay address on DEV in host I and brings it up.
addr_up() {
  netns_exec "$1" ip addr add "$3" dev "$2" && netns_exec "$1" ip link set "$2" up
}

up_veth() { dst=$addr_b; }

up_vxlan() {
  local i
  for i in 1 2; do
    netns_exec "$i" ip link add vxut type vxlan id 42 dstport 4789 local "$(netns_addr "$i")" \
      remote "$(netns_addr $((3 - i)))" dev "$NETNS_DEV" || { skip_why="ip link add vxlan failed"; return 1; }
    addr_up "$i" vxut "100.64.1.$i/24" || { skip_why="cannot configure vxut"; return 1; }
  done
  dst=100.64.1.2
}
down_vxlan() {
  local i
  for i in 1 2; do netns_exec "$i" ip link del vxut 2>/dev/null || true; done
}

up_nebula() {
  if ! { need_bin nebula nebula && command -v nebula-cert >/dev/null; }; then
    skip_why="package nebula not installable"
    return 1
  fi
  local d=$work/nebula i me peer
  mkdir -p "$d"
  timeout 20 nebula-cert ca -name ut-ca -out-crt "$d/ca.crt" -out-key "$d/ca.key" >/dev/null ||
    { skip_why="nebula-cert ca failed"; return 1; }
  for i in 1 2; do
    timeout 20 nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name "h$i" \
      -ip "100.64.2.$i/24" -out-crt "$d/h$i.crt" -out-key "$d/h$i.key" >/dev/null ||
      { skip_why="nebula-cert sign failed"; return 1; }
  done
  for i in 1 2; do
    me=$(netns_addr "$i")
    peer=$((3 - i))
    cat >"$d/h$i.yml" <<EOF
pki:
  ca: $d/ca.crt
  cert: $d/h$i.crt
  key: $d/h$i.key
static_host_map:
  "100.64.2.$peer": ["$(netns_addr "$peer"):4242"]
lighthouse:
  am_lighthouse: false
  interval: 60
  hosts: []
listen:
  host: $me
  port: 4242
punchy:
  punch: false
cipher: aes
tun:
  disabled: false
  dev: nb$i-$$
  mtu: 1300
logging:
  level: info
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
EOF
    spawn "$i" "nebula-h$i" nebula -config "$d/h$i.yml" || { skip_why="nebula did not start"; return 1; }
  done
  for i in 1 2; do
    wait_until 10 dev_up "$i" "nb$i-$$" || { skip_why="nebula made no tun device in h$i"; return 1; }
  done
  dst=100.64.2.2
}

up_wireguard_go() {
  need_bin wireguard-go wireguard-go || { skip_why="package wireguard-go not installable"; return 1; }
  need_bin wg wireguard-tools || { skip_why="package wireguard-tools not installable"; return 1; }
  local d=$work/wg i dev peer
  mkdir -p "$d"
  for i in 1 2; do
    if ! { (umask 077 && wg genkey >"$d/h$i.key") && wg pubkey <"$d/h$i.key" >"$d/h$i.pub"; }; then
      skip_why="wg genkey failed"
      return 1
    fi
  done
  # The namespaces share /var/run/wireguard, so each end needs its own interface name.
  for i in 1 2; do
    dev=wg$i-$$
    spawn "$i" "wireguard-go-h$i" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
      wireguard-go -f "$dev" || { skip_why="wireguard-go did not start"; return 1; }
    wait_until 10 test -S "/var/run/wireguard/$dev.sock" ||
      { skip_why="wireguard-go made no control socket for $dev"; return 1; }
  done
  for i in 1 2; do
    dev=wg$i-$$
    peer=$((3 - i))
    netns_exec "$i" timeout 10 wg set "$dev" private-key "$d/h$i.key" listen-port 51820 \
      peer "$(cat "$d/h$peer.pub")" endpoint "$(netns_addr "$peer"):51820" \
      allowed-ips "100.64.3.$peer/32" || { skip_why="wg set failed on $dev"; return 1; }
    addr_up "$i" "$dev" "100.64.3.$i/24" || { skip_why="cannot configure $dev"; return 1; }
  done
  dst=100.64.3.2
}
down_wireguard_go() { rm -f "/var/run/wireguard/wg1-$$.sock" "/var/run/wireguard/wg2-$$.sock"; }

up_tinc() {
  need_bin tincd tinc || { skip_why="package tinc not installable"; return 1; }
  local d i peer
  for i in 1 2; do
    d=$work/tinc/h$i
    mkdir -p "$d/hosts"
    cat >"$d/tinc.conf" <<EOF
Name = h$i
Mode = router
DeviceType = tun
Device = /dev/net/tun
Interface = tc$i-$$
AddressFamily = ipv4
BindToAddress = $(netns_addr "$i")
Port = 655
Cipher = aes-256-cbc
Digest = sha256
EOF
    # One side connects (both would race and drop one meta connection).
    if ((i == 1)); then echo "ConnectTo = h2" >>"$d/tinc.conf"; fi
    cat >"$d/hosts/h$i" <<EOF
Address = $(netns_addr "$i")
Port = 655
Subnet = 100.64.4.$i/32
Cipher = aes-256-cbc
Digest = sha256
PMTUDiscovery = no
EOF
    timeout 60 tincd --config="$d" -K2048 </dev/null >>"$work/tinc-keys.log" 2>&1 ||
      { skip_why="tincd -K failed"; return 1; }
  done
  for i in 1 2; do
    peer=$((3 - i))
    cp "$work/tinc/h$peer/hosts/h$peer" "$work/tinc/h$i/hosts/h$peer"
  done
  # B first, so that A's ConnectTo finds it listening (a refused try costs a 5 s back-off).
  for i in 2 1; do
    d=$work/tinc/h$i
    spawn "$i" "tincd-h$i" tincd --config="$d" --no-detach --pidfile="$d/tinc.pid" --debug=1 ||
      { skip_why="tincd did not start"; return 1; }
    if ((i == 2)); then
      WAIT_INTERVAL=0.05 wait_until 10 tcp_listening 2 655 || { skip_why="tincd in h2 does not listen"; return 1; }
    fi
  done
  for i in 1 2; do
    wait_until 10 dev_up "$i" "tc$i-$$" || { skip_why="tincd made no tun device in h$i"; return 1; }
    { netns_exec "$i" ip link set "tc$i-$$" mtu 1400 && addr_up "$i" "tc$i-$$" "100.64.4.$i/24"; } ||
      { skip_why="cannot configure tc$i-$$"; return 1; }
  done
  dst=100.64.4.2
}

up_fastd() {
  need_bin fastd fastd || { skip_why="package fastd not installable"; return 1; }
  local d=$work/fastd i peer out
  mkdir -p "$d"
  for i in 1 2; do
    out=$(timeout 20 fastd --generate-key 2>/dev/null) || { skip_why="fastd --generate-key failed"; return 1; }
    awk '$1 == "Secret:" { print $2 }' <<<"$out" >"$d/h$i.secret"
    awk '$1 == "Public:" { print $2 }' <<<"$out" >"$d/h$i.public"
    [[ -s $d/h$i.secret && -s $d/h$i.public ]] || { skip_why="no key from fastd --generate-key"; return 1; }
  done
  for i in 1 2; do
    peer=$((3 - i))
    cat >"$d/h$i.conf" <<EOF
log level info;
bind $(netns_addr "$i"):10000;
mode tun;
interface "fd$i-$$";
method "null";
secret "$(cat "$d/h$i.secret")";
mtu 1400;
peer "h$peer" {
  key "$(cat "$d/h$peer.public")";
  remote $(netns_addr "$peer"):10000;
}
EOF
    spawn "$i" "fastd-h$i" fastd --config "$d/h$i.conf" || { skip_why="fastd did not start"; return 1; }
  done
  for i in 1 2; do
    wait_until 10 dev_up "$i" "fd$i-$$" || { skip_why="fastd made no tun device in h$i"; return 1; }
    addr_up "$i" "fd$i-$$" "100.64.5.$i/24" || { skip_why="cannot configure fd$i-$$"; return 1; }
  done
  dst=100.64.5.2
}

# in_overlay ADDR: ADDR is an IPv4 address in 100.64.0.0/10 or 198.18.0.0/15.
in_overlay() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ && $c =~ ^[0-9]+$ && $d =~ ^[0-9]+$ ]] || return 1
  ((c <= 255 && d <= 255)) || return 1
  ((a == 100 && b >= 64 && b <= 127)) || ((a == 198 && (b == 18 || b == 19)))
}
# The hook is sourced here, at the top level, so that its declarations stay global.
shoal_hook=$root/bench/udp_tunnel_shoal.sh
shoal_why="shoal udp tunnel not available"
if [[ -n $shoal_bin && -f $shoal_hook ]]; then
  # shellcheck source=/dev/null # written separately
  if ! source "$shoal_hook"; then
    shoal_why="sourcing bench/udp_tunnel_shoal.sh failed"
  elif ! declare -F shoal_tunnel_up >/dev/null; then
    shoal_why="bench/udp_tunnel_shoal.sh defines no shoal_tunnel_up"
  else
    shoal_why=""
  fi
fi
# up_shoal MODE NET: the udp tunnel through the hook (see the top).
up_shoal() {
  local mode=$1 out
  [[ -z $shoal_why ]] || { skip_why=$shoal_why; return 1; }
  SHOAL_BIN=$shoal_bin UT_WORK=$work/shoal-$mode UT_ADDR_A=$addr_a UT_ADDR_B=$addr_b UT_OVERLAY=$2
  export SHOAL_BIN UT_WORK UT_ADDR_A UT_ADDR_B UT_OVERLAY
  mkdir -p "$UT_WORK"
  SHOAL_PIDS=()
  out=$work/shoal-$mode.addr
  shoal_tunnel_up "$mode" "$ns_a" "$ns_b" >"$out" 2>>"$work/shoal-$mode-hook.log" ||
    { skip_why="shoal_tunnel_up $mode failed: $(tail -1 "$work/shoal-$mode-hook.log" 2>/dev/null)"; track_shoal; return 1; }
  track_shoal
  dst=$(awk 'NF { a = $1 } END { print a }' "$out")
  in_overlay "$dst" || { skip_why="shoal_tunnel_up printed '$dst', not an overlay address"; return 1; }
  ((${#tun_pids[@]} > 0)) || { skip_why="shoal_tunnel_up set no SHOAL_PIDS"; return 1; }
}
track_shoal() {
  local pid pids
  read -ra pids <<<"${SHOAL_PIDS[*]:-}"
  for pid in ${pids[@]+"${pids[@]}"}; do
    [[ $pid =~ ^[0-9]+$ ]] && { track "$pid" || true; }
  done
}
up_udp_plain() { up_shoal plain 100.64.6.0/24; }
up_udp_enc() { up_shoal enc 100.64.7.0/24; }
down_shoal() {
  declare -F shoal_tunnel_down >/dev/null || return 0
  shoal_tunnel_down "$1" >>"$work/shoal-$1-hook.log" 2>&1
}
down_udp_plain() { down_shoal plain; }
down_udp_enc() { down_shoal enc; }

# ---- run -------------------------------------------------------------------------------------
for c in $cases; do
  [[ " $all_cases " == *" $c "* ]] || { echo "# no case '$c' (cases: $all_cases)"; continue; }
  run_case "$c"
done

# ratio NAME A B: A / B, when both were measured.
ratio() {
  [[ -n $2 && -n $3 ]] || return 0
  awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "figure ratio.%s %.3f x\n", n, a / b }'
}
best_peer=""
for c in nebula wireguard_go; do
  v=${tput[$c.p1]:-}
  [[ -n $v ]] || continue
  if [[ -z $best_peer ]] || awk -v a="$v" -v b="$best_peer" 'BEGIN { exit !(a > b) }'; then best_peer=$v; fi
done
ratio plain_veth.p1 "${tput[udp_plain.p1]:-}" "${tput[veth.p1]:-}"
ratio enc_best_peer.p1 "${tput[udp_enc.p1]:-}" "$best_peer"
ratio best_peer_veth.p1 "$best_peer" "${tput[veth.p1]:-}"
