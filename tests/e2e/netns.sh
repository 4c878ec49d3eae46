# shellcheck shell=bash
# tests/e2e/netns.sh — a network-namespace harness for end-to-end tests, the demo and benchmarks.
#
# Source it, then:
#   require_root "my_test"          # prints one SKIP line and exits 77 when not root
#   netns_setup "sh$$" 3            # bridge namespace sh123-br, hosts sh123-h1..h3
#   netns_setup_routed "sh$$" 2 1   # or: hosts 1,2 on segment A, host 3 on B, router sh123-rt
#   netns_spawn 1 /tmp/h1.log some-daemon --flag
#   netns_exec 2 ping -c1 "$(netns_addr 1)"
#   netns_loss 2 25 ; ... ; netns_loss_clear 2
#   wait_until 10 some_predicate arg
#   netns_gate_close; netns_spawn --gate --stamp 2 LOG CMD...; ...; netns_gate_open
#                                   # start many at one instant, lines stamped with the clock
#
# Topology: one namespace "<prefix>-br" holds bridge br0; every host namespace "<prefix>-hI" has
# loopback up and one veth "u0" ($NETNS_DEV, the underlay) with 192.0.2.(10+I)/24, whose peer
# "hI" is enslaved to br0. Devices are created directly inside the namespaces, so no name ever
# touches the root namespace and runs with different prefixes never collide. IPv6 is off inside
# the namespaces so that byte counters only see what the programs under test send.
#
# Routed topology (netns_setup_routed PREFIX NA NB): two underlay segments joined by a router.
# Hosts 1..NA are on segment A, 192.0.2.0/24 (bridge br0), with 192.0.2.(10+I)/24 as above;
# hosts NA+1..NA+NB on segment B, 198.51.100.0/24 (bridge br1 in the same bridge namespace),
# with 198.51.100.(10+I)/24. The router namespace "<prefix>-rt" has leg u0 with 192.0.2.1/24 on
# br0 and leg u1 with 198.51.100.1/24 on br1, and forwards IPv4; every host has a default route
# via its segment's router address (netns_router_addr A|B). netns_addr and netns_segment know
# which segment a host is on, so callers need not care which setup they got.
#
# Sites behind NAT routers (netns_setup_sites PREFIX PUBLIC KIND:N...): an "internet" segment,
# 203.0.113.0/24 on bridge br0, with hosts 1..PUBLIC at 203.0.113.(10+I); then one site per
# KIND:N (KIND cone or symmetric), each a router namespace "<prefix>-natK" with leg "wan" at
# 203.0.113.(100+K) on br0 and leg "lan" at 198.51.100.1/24 on its own bridge brK, and N hosts
# at 198.51.100.(10+J), J counting from 1 in every site: all sites share one LAN range, as homes
# share 192.168.1.0/24, so an address alone does not name a host. The router masquerades what
# leaves by "wan" with nftables: a cone NAT keeps a host's source port for every destination
# where it can (Linux's usual mapping); `masquerade fully-random` picks a new port per flow, a
# symmetric NAT. Conntrack lets in only replies to flows a host started (address-and-port
# dependent filtering), and the router drops what else comes in by "wan", as home routers do. netns_site I gives host I's site (0: public); netns_nat_exec K CMD runs
# CMD in site K's router.
#
# Extra namespaces (netns_add_extra SUFFIX, e.g. the pods of tests/e2e/pods.sh): "<prefix>-SUFFIX",
# loopback up, IPv6 off, owned by the harness like the others.
#
# Cleanup: sourcing installs `trap netns_cleanup EXIT INT TERM` (bash also runs the EXIT trap
# when another fatal signal such as HUP or PIPE ends it); an EXIT trap the caller set before
# sourcing still runs, after ours. Callers that need more cleanup register it with
# netns_at_cleanup instead of replacing the trap. netns_cleanup kills only the processes that
# netns_spawn started (checked by PID and start time, so a reused PID is never hit), deletes the
# namespaces (which takes their devices and nft rules with them) and is safe to call twice.
#
# Works under `set -euo pipefail` and does not change the caller's shell options. Call the
# functions that change state (netns_setup, netns_spawn) directly, not inside $(...): a
# subshell's bookkeeping is lost when it returns.

# ---- state (one harness per shell) -----------------------------------------------------------
NETNS_PREFIX=""           # prefix given to netns_setup; empty when nothing is set up
NETNS_HOSTS=0             # number of host namespaces
NETNS_DEV=u0              # the underlay device in every host namespace
NETNS_ROUTED=0            # 1 after netns_setup_routed: two segments and a router
NETNS_SEG_A=0             # hosts 1..NETNS_SEG_A are on segment A (all of them unless routed)
# shellcheck disable=SC2034 # read by callers
NETNS_LAST_PID=""         # PID of the last process netns_spawn started
# shellcheck disable=SC2034 # read by callers
WAIT_ELAPSED_US=0         # how long the last wait_until waited, in microseconds
# shellcheck disable=SC2034 # read by callers
NETNS_GATE_OPENED_US=0    # when the last netns_gate_open let the gated processes go
NETNS_SITES=0             # after netns_setup_sites: the number of NATed sites
declare -gA _netns_host_addr=() # host -> address, where netns_setup_sites placed it
declare -gA _netns_host_site=() # host -> site (0: public), after netns_setup_sites
_netns_names=()           # namespaces created (recorded before creation, so cleanup sees them)
_netns_proc_host=()       # for every process netns_spawn started: its host,
_netns_proc_pid=()        #   its PID,
_netns_proc_start=()      #   and its start time (see _netns_stat)
_netns_gate_file=""       # the lock file of a closed start gate (netns_gate_close)
_netns_gate_fd=""         # our descriptor holding it exclusively
_netns_gate_waiters=0     # processes spawned with --gate since
_netns_cleanups=()        # commands registered with netns_at_cleanup, run last-first
_netns_prev_exit_trap=""  # the caller's EXIT trap from before sourcing, run after ours
_netns_cleaning=0         # guards against re-entry (a signal during cleanup)

# ---- small utilities -------------------------------------------------------------------------

# now_us: microseconds since the epoch (from bash's EPOCHREALTIME, no fork).
now_us() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo "$t"
}

# _netns_secs_to_us SECONDS: "2", "0.25" or "1.5" to microseconds.
_netns_secs_to_us() {
  local s=$1 whole frac
  whole=${s%%.*}
  frac=""
  [[ $s == *.* ]] && frac=${s#*.}
  frac=${frac}000000
  echo $((10#${whole:-0} * 1000000 + 10#${frac:0:6}))
}

# us_to_secs MICROSECONDS: prints seconds with three decimals.
us_to_secs() {
  local us=$1
  printf '%d.%03d\n' $((us / 1000000)) $((us % 1000000 / 1000))
}

# wait_until TIMEOUT_S CMD...: runs CMD every WAIT_INTERVAL seconds (default 0.2) until it
# succeeds (returns 0) or TIMEOUT_S seconds have passed (returns 1). Sets WAIT_ELAPSED_US to the
# time from the call until CMD last ran, in microseconds.
wait_until() {
  local timeout_us interval_us start deadline now left status=1
  timeout_us=$(_netns_secs_to_us "$1")
  interval_us=$(_netns_secs_to_us "${WAIT_INTERVAL:-0.2}")
  shift
  start=$(now_us)
  deadline=$((start + timeout_us))
  while true; do
    if "$@"; then
      status=0
      break
    fi
    now=$(now_us)
    ((now >= deadline)) && break
    left=$((deadline - now))
    ((left < interval_us)) || left=$interval_us
    sleep "$(us_to_secs "$left")"
  done
  # shellcheck disable=SC2034 # read by callers
  WAIT_ELAPSED_US=$(($(now_us) - start))
  return $status
}

# not CMD...: succeeds when CMD fails (for wait_until: `wait_until 5 not netns_alive 3`).
not() { ! "$@"; }

# require_root TEST_NAME: when not root, prints one skip line and exits 77, the code ctest's
# SKIP_RETURN_CODE property is set to.
require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: $1: needs root (network namespaces)"
    exit 77
  fi
}

# need_packages PKG...: installs the Debian packages of the list that are not installed yet.
# Remembers what it found installed, so that calling it in a loop costs nothing.
declare -gA _netns_have_package=()
# The NAT routers' nftables ruleset (netns_setup_sites), shared with shoal-chaos.
_netns_nat_rules="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/chaos/nat_router.nft"

need_packages() {
  local p missing=()
  for p in "$@"; do
    [[ -n ${_netns_have_package[$p]:-} ]] && continue
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      _netns_have_package[$p]=1
    else
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  echo "# netns: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || {
    echo "netns: could not install ${missing[*]}; run 'apt-get update' and try again" >&2
    return 1
  }
}

# ---- naming ----------------------------------------------------------------------------------

# netns_name I: the namespace of host I.
netns_name() { echo "${NETNS_PREFIX}-h$1"; }

# netns_bridge_name: the namespace holding the bridge.
netns_bridge_name() { echo "${NETNS_PREFIX}-br"; }

# netns_addr I: host I's underlay address: 192.0.2.(10+I) on segment A (every host of
# netns_setup), 198.51.100.(10+I) on segment B (the last NB hosts of netns_setup_routed).
netns_addr() {
  if [[ -n ${_netns_host_addr[$1]:-} ]]; then
    echo "${_netns_host_addr[$1]}"
  elif ((NETNS_ROUTED && $1 > NETNS_SEG_A)); then
    echo "198.51.100.$((10 + $1))"
  else
    echo "192.0.2.$((10 + $1))"
  fi
}

# netns_segment I: the segment host I is on, A or B.
netns_segment() {
  if ((NETNS_ROUTED && $1 > NETNS_SEG_A)); then echo B; else echo A; fi
}

# netns_router_name: the router namespace of netns_setup_routed.
netns_router_name() { echo "${NETNS_PREFIX}-rt"; }

# netns_router_addr A|B: the router's address on that segment (the hosts' default gateway).
netns_router_addr() {
  case $1 in
    A) echo 192.0.2.1 ;;
    B) echo 198.51.100.1 ;;
    *) echo "netns: no segment '$1' (A or B)" >&2; return 1 ;;
  esac
}

_netns_check_host() {
  if [[ -z $NETNS_PREFIX || ! $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > NETNS_HOSTS)); then
    echo "netns: no host '$1' (hosts are 1..$NETNS_HOSTS; call netns_setup first)" >&2
    return 1
  fi
}

# ---- topology --------------------------------------------------------------------------------

# _netns_add NAME: creates a namespace with loopback up and IPv6 off; records it first.
_netns_add() {
  _netns_names+=("$1")
  ip netns add "$1" || return 1
  ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1
  ip -n "$1" link set lo up
}

# _netns_check_prefix PREFIX: a valid prefix, and nothing of it exists yet.
_netns_check_prefix() {
  if [[ -n $NETNS_PREFIX ]]; then
    echo "netns: already set up with prefix '$NETNS_PREFIX'; call netns_cleanup first" >&2
    return 1
  fi
  if [[ ! $1 =~ ^[A-Za-z0-9_]{1,16}$ ]]; then
    echo "netns: prefix '$1' must be 1-16 letters, digits or '_' (e.g. sh\$\$)" >&2
    return 1
  fi
  # A prefix has no '-', so "<prefix>-..." can only be this prefix's.
  if ip netns list | grep -qE "^$1-"; then
    echo "netns: namespaces with prefix '$1' exist already; pick a run-unique prefix" >&2
    return 1
  fi
}

# _netns_build PREFIX N NA: the bridge namespace, N hosts; hosts above NA go on segment B (br1),
# and then there is a router. The callers checked the arguments.
_netns_build() {
  local prefix=$1 n=$2 na=$3 i ns br bridge
  need_packages iproute2 procps || return 1
  NETNS_PREFIX=$prefix
  NETNS_HOSTS=$n
  NETNS_SEG_A=$na
  NETNS_ROUTED=0
  ((na < n)) && NETNS_ROUTED=1
  br=$(netns_bridge_name)
  _netns_add "$br" || return 1
  ip -n "$br" link add br0 type bridge || return 1
  ip -n "$br" link set br0 up || return 1
  if ((NETNS_ROUTED)); then
    ip -n "$br" link add br1 type bridge || return 1
    ip -n "$br" link set br1 up || return 1
  fi
  for ((i = 1; i <= n; i++)); do
    ns=$(netns_name "$i")
    bridge=br0
    ((i > na)) && bridge=br1
    _netns_add "$ns" || return 1
    ip -n "$ns" link add "$NETNS_DEV" type veth peer name "h$i" netns "$br" || return 1
    ip -n "$ns" addr add "$(netns_addr "$i")/24" dev "$NETNS_DEV" || return 1
    ip -n "$ns" link set "$NETNS_DEV" up || return 1
    ip -n "$br" link set "h$i" master "$bridge" up || return 1
  done
  ((NETNS_ROUTED)) || return 0
  local rt
  rt=$(netns_router_name)
  _netns_add "$rt" || return 1
  ip netns exec "$rt" sysctl -q -w net.ipv4.ip_forward=1 >/dev/null || return 1
  ip -n "$rt" link add u0 type veth peer name ra netns "$br" || return 1
  ip -n "$rt" link add u1 type veth peer name rb netns "$br" || return 1
  ip -n "$rt" addr add "$(netns_router_addr A)/24" dev u0 || return 1
  ip -n "$rt" addr add "$(netns_router_addr B)/24" dev u1 || return 1
  ip -n "$rt" link set u0 up || return 1
  ip -n "$rt" link set u1 up || return 1
  ip -n "$br" link set ra master br0 up || return 1
  ip -n "$br" link set rb master br1 up || return 1
  for ((i = 1; i <= n; i++)); do
    ip -n "$(netns_name "$i")" route add default \
      via "$(netns_router_addr "$(netns_segment "$i")")" dev "$NETNS_DEV" || return 1
  done
}

# netns_setup PREFIX N: builds the bridge namespace and N host namespaces (see the top).
netns_setup() {
  local prefix=$1 n=$2
  _netns_check_prefix "$prefix" || return 1
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 240)); then
    echo "netns: host count '$n' must be 1..240 (addresses 192.0.2.11..250)" >&2
    return 1
  fi
  _netns_build "$prefix" "$n" "$n"
}

# netns_setup_routed PREFIX NA NB: the routed topology (see the top): hosts 1..NA on segment A,
# hosts NA+1..NA+NB on segment B, a router between them.
netns_setup_routed() {
  local prefix=$1 na=$2 nb=$3
  _netns_check_prefix "$prefix" || return 1
  if [[ ! $na =~ ^[0-9]+$ || ! $nb =~ ^[0-9]+$ ]] || ((na < 1 || nb < 1 || na + nb > 240)); then
    echo "netns: host counts '$na' and '$nb' must be 1 or more, 240 at most together" >&2
    return 1
  fi
  _netns_build "$prefix" $((na + nb)) "$na"
}

# netns_setup_sites PREFIX PUBLIC KIND:N...: the NATed sites topology (see the top).
netns_setup_sites() {
  local prefix=$1 public=$2 spec kind count k=0 i=0 j br rt masq
  shift 2
  _netns_check_prefix "$prefix" || return 1
  need_packages iproute2 procps nftables || return 1
  NETNS_PREFIX=$prefix
  br=$(netns_bridge_name)
  _netns_add "$br" || return 1
  ip -n "$br" link add br0 type bridge && ip -n "$br" link set br0 up || return 1
  for ((i = 1; i <= public; i++)); do
    _netns_host_addr[$i]="203.0.113.$((10 + i))"
    _netns_host_site[$i]=0
    _netns_site_host "$i" br0 "203.0.113.$((10 + i))/24" || return 1
  done
  i=$public
  for spec in "$@"; do
    kind=${spec%%:*} count=${spec#*:}
    k=$((k + 1))
    case $kind in
      cone) masq="masquerade" ;;
      symmetric) masq="masquerade fully-random" ;;
      *) echo "netns: site '$spec' must be cone:N or symmetric:N" >&2; return 1 ;;
    esac
    rt="${NETNS_PREFIX}-nat$k"
    _netns_add "$rt" || return 1
    ip netns exec "$rt" sysctl -q -w net.ipv4.ip_forward=1 >/dev/null || return 1
    ip -n "$br" link add "br$k" type bridge && ip -n "$br" link set "br$k" up || return 1
    ip -n "$rt" link add wan type veth peer name "w$k" netns "$br" || return 1
    ip -n "$rt" link add lan type veth peer name "l$k" netns "$br" || return 1
    ip -n "$rt" addr add "203.0.113.$((100 + k))/24" dev wan || return 1
    ip -n "$rt" addr add 198.51.100.1/24 dev lan || return 1
    ip -n "$rt" link set wan up && ip -n "$rt" link set lan up || return 1
    ip -n "$br" link set "w$k" master br0 up && ip -n "$br" link set "l$k" master "br$k" up ||
      return 1
    # The ruleset shoal-chaos's routers load too (it says why each rule is there), without
    # shoal-chaos's per-host marks.
    sed -e "s/^{masquerade}\$/  oifname \"wan\" $masq/" -e '/^{marks}$/d' "$_netns_nat_rules" |
      ip netns exec "$rt" nft -f - || return 1
    for ((j = 1; j <= count; j++)); do
      i=$((i + 1))
      _netns_host_addr[$i]="198.51.100.$((10 + j))"
      _netns_host_site[$i]=$k
      _netns_site_host "$i" "br$k" "198.51.100.$((10 + j))/24" 198.51.100.1 || return 1
    done
  done
  NETNS_HOSTS=$i
  NETNS_SEG_A=$i
  NETNS_SITES=$k
}

# netns_add_public_host: after netns_setup_sites, one more host on the public segment, numbered
# after the others (203.0.113.(10 + I)); its number is then $NETNS_HOSTS. (Call it directly,
# not in $(...): a subshell's hosts are lost.)
netns_add_public_host() {
  local i=$((NETNS_HOSTS + 1))
  ((i <= 240)) || { echo "netns: no room for another public host" >&2; return 1; }
  _netns_host_addr[$i]="203.0.113.$((10 + i))"
  _netns_host_site[$i]=0
  _netns_site_host "$i" br0 "203.0.113.$((10 + i))/24" || return 1
  NETNS_HOSTS=$i
}

# _netns_site_host I BRIDGE ADDRESS/LEN [GATEWAY]: host I's namespace on BRIDGE.
_netns_site_host() {
  local ns br
  ns=$(netns_name "$1")
  br=$(netns_bridge_name)
  _netns_add "$ns" || return 1
  ip -n "$ns" link add "$NETNS_DEV" type veth peer name "h$1" netns "$br" || return 1
  ip -n "$ns" addr add "$3" dev "$NETNS_DEV" && ip -n "$ns" link set "$NETNS_DEV" up || return 1
  ip -n "$br" link set "h$1" master "$2" up || return 1
  [[ -z ${4:-} ]] || ip -n "$ns" route add default via "$4" dev "$NETNS_DEV"
}

# netns_site I: host I's site after netns_setup_sites (0: the public segment).
netns_site() { echo "${_netns_host_site[$1]:-0}"; }

# netns_nat_exec K CMD...: runs CMD in site K's router namespace.
netns_nat_exec() { ip netns exec "${NETNS_PREFIX}-nat$1" "${@:2}"; }

# netns_add_extra SUFFIX: creates one more namespace, "<prefix>-SUFFIX" (loopback up, IPv6 off),
# after netns_setup. netns_cleanup deletes it with the others, and kills what still runs in it.
netns_add_extra() {
  if [[ -z $NETNS_PREFIX ]]; then
    echo "netns: call netns_setup before netns_add_extra" >&2
    return 1
  fi
  if [[ ! $1 =~ ^[A-Za-z0-9_]{1,20}$ || $1 =~ ^(br|rt|h[0-9]+)$ ]]; then
    echo "netns: extra namespace suffix '$1' must be 1-20 letters, digits or '_', and not a host's, br or rt" >&2
    return 1
  fi
  if [[ -e /run/netns/${NETNS_PREFIX}-$1 ]]; then
    echo "netns: namespace ${NETNS_PREFIX}-$1 exists already" >&2
    return 1
  fi
  _netns_add "${NETNS_PREFIX}-$1"
}

# netns_exec I CMD...: runs CMD in host I's namespace, in the foreground.
netns_exec() {
  _netns_check_host "$1" || return 1
  local ns
  ns=$(netns_name "$1")
  shift
  ip netns exec "$ns" "$@"
}

# netns_bridge_exec CMD...: runs CMD in the bridge namespace.
netns_bridge_exec() { ip netns exec "$(netns_bridge_name)" "$@"; }

# netns_router_exec CMD...: runs CMD in the router namespace (netns_setup_routed only).
netns_router_exec() {
  if ((!NETNS_ROUTED)); then
    echo "netns: no router (netns_setup_routed makes one)" >&2
    return 1
  fi
  ip netns exec "$(netns_router_name)" "$@"
}

# ---- processes -------------------------------------------------------------------------------

# _netns_stat PID: reads /proc/PID/stat without forking; sets _netns_stat_start (start time in
# clock ticks, field 22: with the PID it names one process for good, even after the PID is
# reused) and _netns_stat_state (R, S, Z, ...).
_netns_stat() {
  local line fields
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) } # drop "pid (comm) ": comm may hold spaces and parentheses
  read -ra fields <<<"$line"
  _netns_stat_state=${fields[0]}
  _netns_stat_start=${fields[19]} # field 22 overall is the 20th after comm
}

# _netns_is_ours K: process record K still runs (not a zombie) and is the one we started.
_netns_is_ours() {
  _netns_stat "${_netns_proc_pid[$1]}" || return 1
  [[ $_netns_stat_start == "${_netns_proc_start[$1]}" && $_netns_stat_state != Z ]]
}

# The wrapper netns_spawn runs when asked to gate or stamp: it waits at the gate (a shared flock
# that netns_gate_close holds exclusively), prefixes every output line with the wall clock, then
# execs the command, which so keeps the wrapper's PID.
# shellcheck disable=SC2016 # expanded by the wrapper, not here
_netns_wrapper='
  gate=$1 stamp=$2
  shift 2
  if [[ -n $gate ]]; then flock -s "$gate" true; fi
  if [[ $stamp == 1 ]]; then
    exec > >(export LC_ALL=C
             while IFS= read -r line; do printf "%s %s\n" "$EPOCHREALTIME" "$line"; done) 2>&1
  fi
  exec "$@"'

# netns_spawn [--gate] [--stamp] I LOGFILE CMD...: starts CMD in host I in the background, its
# output appended to LOGFILE, in a session (and process group) of its own so that a signal
# reaches its children too. Sets NETNS_LAST_PID, which is CMD's PID.
#   --gate   CMD waits until netns_gate_open (see there): many processes start at one instant.
#   --stamp  every output line is prefixed with "SECONDS.MICROSECONDS " of the wall clock at
#            which it was written, for measuring when a process saw something happen.
netns_spawn() {
  local gate="" stamp=0
  while [[ ${1:-} == --* ]]; do
    case $1 in
      --gate)
        if [[ -z $_netns_gate_file ]]; then
          echo "netns_spawn: --gate needs netns_gate_close first" >&2
          return 1
        fi
        gate=$_netns_gate_file
        _netns_gate_waiters=$((_netns_gate_waiters + 1))
        ;;
      --stamp) stamp=1 ;;
      *) echo "netns_spawn: unknown option '$1'" >&2; return 1 ;;
    esac
    shift
  done
  _netns_check_host "$1" || return 1
  local i=$1 log=$2 ns="${NETNS_PREFIX}-h$1" pid
  shift 2
  if [[ -n $gate || $stamp == 1 ]]; then
    set -- bash -c "$_netns_wrapper" netns-wrapper "$gate" "$stamp" "$@"
  fi
  # A background child of a non-interactive shell is not a group leader, so setsid(1) calls
  # setsid() and execs without forking: $! is the PID of CMD itself.
  setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
  pid=$!
  disown "$pid" # no "Killed" job reports; bash still reaps it
  _netns_stat "$pid" || _netns_stat_start=gone
  _netns_proc_host+=("$i")
  _netns_proc_pid+=("$pid")
  _netns_proc_start+=("$_netns_stat_start")
  # shellcheck disable=SC2034 # read by callers
  NETNS_LAST_PID=$pid
}

# netns_gate_close: closes the start gate; processes spawned with --gate wait at it.
netns_gate_close() {
  if [[ -n $_netns_gate_file ]]; then
    echo "netns_gate_close: the gate is closed already" >&2
    return 1
  fi
  _netns_gate_file=$(mktemp "${TMPDIR:-/tmp}/netns-gate.XXXXXX") || return 1
  exec {_netns_gate_fd}>"$_netns_gate_file"
  flock -x "$_netns_gate_fd"
  _netns_gate_waiters=0
}

# _netns_gate_full INODE: every gated process is blocked on the gate (the kernel lists waiters
# on a lock in /proc/locks as "-> FLOCK ...").
_netns_gate_full() {
  local waiting
  waiting=$(grep -cE -- "-> FLOCK .*:$1 " /proc/locks || true)
  ((waiting >= _netns_gate_waiters))
}

# netns_gate_waiting: every process spawned with --gate is blocked at the closed gate now.
netns_gate_waiting() {
  [[ -n $_netns_gate_file ]] && _netns_gate_full "$(stat -c %i "$_netns_gate_file")"
}

# netns_gate_open [TIMEOUT_S]: waits (10 s at most by default) until every process spawned with
# --gate is waiting at the gate, then lets them all go at once. Sets NETNS_GATE_OPENED_US to the
# wall clock of the release, in microseconds.
netns_gate_open() {
  [[ -n $_netns_gate_file ]] || return 0
  if ! wait_until "${1:-10}" netns_gate_waiting; then
    echo "# netns: not all $_netns_gate_waiters gated processes reached the gate; opening" >&2
  fi
  # shellcheck disable=SC2034 # read by callers
  NETNS_GATE_OPENED_US=$(now_us) # just before: nothing behind the gate can start earlier
  _netns_gate_release
}

_netns_gate_release() {
  [[ -n $_netns_gate_file ]] || return 0
  flock -u "$_netns_gate_fd"
  exec {_netns_gate_fd}>&-
  rm -f "$_netns_gate_file"
  _netns_gate_file=""
  _netns_gate_waiters=0
}

# netns_pids I: prints the PIDs netns_spawn started in host I that still run.
netns_pids() {
  local k
  for k in "${!_netns_proc_pid[@]}"; do
    [[ ${_netns_proc_host[k]} == "$1" ]] && _netns_is_ours "$k" && echo "${_netns_proc_pid[k]}"
  done
  return 0
}

# netns_alive I: true while a process netns_spawn started in host I still runs.
netns_alive() {
  local k
  for k in "${!_netns_proc_pid[@]}"; do
    [[ ${_netns_proc_host[k]} == "$1" ]] && _netns_is_ours "$k" && return 0
  done
  return 1
}

# netns_stopped I: true once no process that netns_spawn started in host I runs (wait_until's
# condition after a SIGTERM or a leave).
netns_stopped() { ! netns_alive "$1"; }

# netns_alive_pid PID: true while the process netns_spawn started as PID still runs (not a zombie).
netns_alive_pid() {
  local k
  for k in "${!_netns_proc_pid[@]}"; do
    [[ ${_netns_proc_pid[k]} == "$1" ]] && _netns_is_ours "$k" && return 0
  done
  return 1
}

# netns_kill I SIG [PID]: sends SIG (e.g. KILL, TERM) to the process groups netns_spawn started
# in host I, or only to PID's group when given. Unknown or finished PIDs are left alone.
netns_kill() {
  local i=$1 sig=$2 only=${3:-} k
  for k in "${!_netns_proc_pid[@]}"; do
    [[ ${_netns_proc_host[k]} == "$i" ]] || continue
    [[ -z $only || $only == "${_netns_proc_pid[k]}" ]] || continue
    _netns_is_ours "$k" && kill -s "$sig" -- "-${_netns_proc_pid[k]}" 2>/dev/null
  done
  return 0
}

# ---- fault injection -------------------------------------------------------------------------

# netns_loss [--dir in|out|both] [--proto all|udp|tcp] I PERCENT: drops PERCENT % of the IPv4
# packets crossing host I's underlay, at random (nft `numgen random mod 100 < PERCENT`).
# Defaults: both directions, all protocols, because real loss does not pick a protocol: UDP
# gossip, TCP push-pull and stream probes all suffer. With both directions, a packet between two
# lossy hosts crosses two filters; to lose each packet between hosts exactly once, give every
# host `--dir out`. ARP is not touched, so 100 % loss still leaves neighbours resolvable.
# Replaces any loss set earlier on that host.
netns_loss() {
  local dir=both proto=all
  while [[ ${1:-} == --* ]]; do
    case $1 in
      --dir) dir=$2 ;;
      --proto) proto=$2 ;;
      *) echo "netns_loss: unknown option '$1'" >&2; return 1 ;;
    esac
    shift 2
  done
  local i=$1 pct=$2 match="" rules="" coin
  _netns_check_host "$i" || return 1
  if [[ ! $pct =~ ^[0-9]+$ ]] || ((pct > 100)); then
    echo "netns_loss: percent '$pct' must be an integer 0..100" >&2
    return 1
  fi
  coin="numgen random mod 100 < $pct"
  ((pct == 100)) && coin="" # nft refuses "< 100" on a 0..99 range; 100 % is simply everything
  case $proto in
    all) match="meta nfproto ipv4" ;;
    udp | tcp) match="meta l4proto $proto" ;;
    *) echo "netns_loss: --proto must be all, udp or tcp, not '$proto'" >&2; return 1 ;;
  esac
  case $dir in # ";;&" goes on testing the next patterns, so "both" collects both chains
    in | both) rules+="chain in { type filter hook input priority -200; policy accept;
                 iifname \"$NETNS_DEV\" $match $coin counter drop; }
" ;;&
    out | both) rules+="chain out { type filter hook output priority -200; policy accept;
                  oifname \"$NETNS_DEV\" $match $coin counter drop; }
" ;;
    in) ;;
    *) echo "netns_loss: --dir must be in, out or both, not '$dir'" >&2; return 1 ;;
  esac
  need_packages nftables || return 1
  # "add table; delete table" first makes the replacement work whether or not one existed.
  netns_exec "$i" nft -f - <<EOF
add table inet netns_loss
delete table inet netns_loss
table inet netns_loss {
$rules}
EOF
}

# netns_loss_clear I: removes the loss set on host I (no error when there is none).
netns_loss_clear() {
  _netns_check_host "$1" || return 1
  netns_exec "$1" nft delete table inet netns_loss 2>/dev/null || true
}

# netns_loss_drops I: prints how many packets the loss rules on host I dropped so far.
netns_loss_drops() {
  netns_exec "$1" nft list table inet netns_loss 2>/dev/null |
    awk '/counter packets/ { for (f = 1; f < NF; f++) if ($f == "packets") n += $(f + 1) }
         END { print n + 0 }'
}

# netns_bytes I [rx|tx]: bytes that passed host I's underlay so far, as the veth counts them
# (whole Ethernet frames); tx by default.
netns_bytes() {
  netns_exec "$1" cat "/sys/class/net/$NETNS_DEV/statistics/${2:-tx}_bytes"
}

# netns_metric I PORT NAME: the value of the Prometheus sample NAME (labels included, as
# exported) served at /metrics on host I's address and PORT; 0 when absent or unreachable.
netns_metric() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  netns_exec "$1" bash -c 'exec 3<>"/dev/tcp/$0/$1" &&
    printf "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" >&3 && timeout 2 cat <&3' \
    "$(netns_addr "$1")" "$2" 2>/dev/null | awk -v m="$3" '$1 == m { v = $2 } END { print v + 0 }'
}

# ---- cleanup ---------------------------------------------------------------------------------

# netns_at_cleanup CMD: adds a shell command (a string, eval'd) for the next netns_cleanup to run
# before it kills processes and deletes namespaces: things that belong to this setup, such as
# copying logs out. Commands run last-registered first, once; failures are ignored.
netns_at_cleanup() { _netns_cleanups+=("$1"); }

# netns_cleanup: runs the registered cleanups, stops what netns_spawn started (TERM, then KILL
# after 3 s), deletes the namespaces. Idempotent; leaves the harness ready for a new netns_setup.
netns_cleanup() {
  local - # keep `set +e` local: a trap must finish its cleanup even when a step fails
  set +e
  ((_netns_cleaning)) && return 0
  _netns_cleaning=1
  trap '' PIPE # a reader that went away (`... | head`) must not kill us halfway
  local k ns deadline left stray
  for ((k = ${#_netns_cleanups[@]} - 1; k >= 0; k--)); do
    eval "${_netns_cleanups[k]}" || true
  done
  _netns_cleanups=()

  _netns_gate_release
  for k in "${!_netns_proc_pid[@]}"; do
    _netns_is_ours "$k" && kill -s TERM -- "-${_netns_proc_pid[k]}" 2>/dev/null
  done
  deadline=$(($(now_us) + 3000000))
  while (($(now_us) < deadline)); do
    left=0
    for k in "${!_netns_proc_pid[@]}"; do
      _netns_is_ours "$k" && left=1 && break
    done
    ((left)) || break
    sleep 0.1
  done
  for k in "${!_netns_proc_pid[@]}"; do
    _netns_is_ours "$k" && kill -s KILL -- "-${_netns_proc_pid[k]}" 2>/dev/null
  done
  _netns_proc_host=()
  _netns_proc_pid=()
  _netns_proc_start=()

  # Our prefix is run-unique (and has no '-'), so every namespace "<prefix>-..." is ours,
  # including one whose creation a signal interrupted before it was recorded.
  if [[ -n $NETNS_PREFIX ]]; then
    while read -r ns _; do
      [[ $ns =~ ^${NETNS_PREFIX}-[A-Za-z0-9_]+$ ]] && _netns_names+=("$ns")
    done < <(ip netns list 2>/dev/null)
  fi
  for ns in ${_netns_names[@]+"${_netns_names[@]}"}; do
    [[ -e /run/netns/$ns ]] || continue
    # A process still inside a namespace we made can only be a descendant of ours that left
    # its process group; it would keep the namespace and its devices alive after deletion.
    stray=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    if [[ -n $stray ]]; then
      echo "# netns: killing leftover processes in $ns: $stray" >&2
      # shellcheck disable=SC2086 # a list of PIDs
      kill -s KILL $stray 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
  done
  _netns_names=()
  NETNS_PREFIX=""
  NETNS_HOSTS=0
  NETNS_ROUTED=0
  NETNS_SEG_A=0
  NETNS_SITES=0
  _netns_host_addr=()
  _netns_host_site=()
  _netns_cleaning=0
  trap - PIPE
  return 0
}

_netns_on_exit() {
  local status=$?
  netns_cleanup
  if [[ -n $_netns_prev_exit_trap ]]; then
    eval "$_netns_prev_exit_trap"
  fi
  return $status
}

_netns_on_signal() {
  netns_cleanup
  exit "$1" # runs the EXIT trap too, which finds nothing left to clean
}

# Install the traps, keeping an EXIT trap the caller already had.
_netns_keep_prev_trap() { _netns_prev_exit_trap=$3; } # args: trap -- 'CMD' EXIT
_netns_install_traps() {
  local prev
  prev=$(trap -p EXIT)
  if [[ -n $prev && $prev != *_netns_on_exit* ]]; then
    eval "_netns_keep_prev_trap $prev"
  fi
  trap _netns_on_exit EXIT
  trap '_netns_on_signal 130' INT
  trap '_netns_on_signal 143' TERM
}
_netns_install_traps
