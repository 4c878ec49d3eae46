# shellcheck shell=bash
# tests/e2e/netns.sh — a network-namespace harness for end-to-end tests, the demo and benchmarks.
#
# Source it, then:
#   require_root "my_test"          # prints one SKIP line and exits 77 when not root
#   netns_setup "sh$$" 3            # bridge namespace sh123-br, hosts sh123-h1..h3
#   netns_spawn 1 /tmp/h1.log some-daemon --flag
#   netns_exec 2 ping -c1 "$(netns_addr 1)"
#   netns_loss 2 25 ; ... ; netns_loss_clear 2
#   wait_until 10 some_predicate arg
#
# Topology: one namespace "<prefix>-br" holds bridge br0; every host namespace "<prefix>-hI" has
# loopback up and one veth "u0" (the underlay) with 192.0.2.(10+I)/24, whose peer "hI" is
# enslaved to br0. Devices are created directly inside the namespaces, so no name ever touches
# the root namespace and runs with different prefixes never collide. IPv6 is off inside the
# namespaces so that byte counters only see what the programs under test send.
#
# Cleanup: sourcing installs `trap netns_cleanup EXIT INT TERM`; an EXIT trap the caller set
# before sourcing still runs, after ours. Callers that need more cleanup register it with
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
# shellcheck disable=SC2034 # read by callers
NETNS_LAST_PID=""         # PID of the last process netns_spawn started
# shellcheck disable=SC2034 # read by callers
WAIT_ELAPSED_US=0         # how long the last wait_until waited, in microseconds
_netns_names=()           # namespaces created (recorded before creation, so cleanup sees them)
_netns_procs=()           # "HOST PID STARTTIME" of every process netns_spawn started
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

# require_root TEST_NAME: when not root, prints one skip line and exits 77, the code ctest's
# SKIP_RETURN_CODE property is set to.
require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: $1: needs root (network namespaces)"
    exit 77
  fi
}

# need_packages PKG...: installs the Debian packages of the list that are not installed yet.
need_packages() {
  local p missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
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

# netns_addr I: host I's underlay address, 192.0.2.(10+I).
netns_addr() { echo "192.0.2.$((10 + $1))"; }

# netns_dev: the underlay device inside every host namespace.
netns_dev() { echo "u0"; }

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

# netns_setup PREFIX N: builds the bridge namespace and N host namespaces (see the top).
netns_setup() {
  local prefix=$1 n=$2 i ns br
  if [[ -n $NETNS_PREFIX ]]; then
    echo "netns: already set up with prefix '$NETNS_PREFIX'; call netns_cleanup first" >&2
    return 1
  fi
  if [[ ! $prefix =~ ^[A-Za-z0-9_]{1,16}$ ]]; then
    echo "netns: prefix '$prefix' must be 1-16 letters, digits or '_' (e.g. sh\$\$)" >&2
    return 1
  fi
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 240)); then
    echo "netns: host count '$n' must be 1..240 (addresses 192.0.2.11..250)" >&2
    return 1
  fi
  if ip netns list | grep -qE "^${prefix}-(br|h[0-9]+)( |$)"; then
    echo "netns: namespaces with prefix '$prefix' exist already; pick a run-unique prefix" >&2
    return 1
  fi
  need_packages iproute2 procps || return 1
  NETNS_PREFIX=$prefix
  NETNS_HOSTS=$n
  br=$(netns_bridge_name)
  _netns_add "$br" || return 1
  ip -n "$br" link add br0 type bridge || return 1
  ip -n "$br" link set br0 up || return 1
  for ((i = 1; i <= n; i++)); do
    ns=$(netns_name "$i")
    _netns_add "$ns" || return 1
    ip -n "$ns" link add u0 type veth peer name "h$i" netns "$br" || return 1
    ip -n "$ns" addr add "$(netns_addr "$i")/24" dev u0 || return 1
    ip -n "$ns" link set u0 up || return 1
    ip -n "$br" link set "h$i" master br0 up || return 1
  done
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

# ---- processes -------------------------------------------------------------------------------

# _netns_starttime PID: the process's start time in clock ticks (field 22 of /proc/PID/stat);
# with the PID it names one process for good, even after the PID is reused.
_netns_starttime() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }      # drop "pid (comm) ", comm may hold spaces
  read -ra fields <<<"$stat"
  echo "${fields[19]}"   # field 22 overall is the 20th after comm
}

# _netns_is_ours PID STARTTIME: the process still runs and is the one we started.
_netns_is_ours() {
  local st state
  st=$(_netns_starttime "$1") || return 1
  [[ $st == "$2" ]] || return 1
  state=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  state=${state##*) }
  [[ ${state:0:1} != Z ]]
}

# netns_spawn I LOGFILE CMD...: starts CMD in host I in the background, stdout and stderr
# appended to LOGFILE, in a session (and process group) of its own, so that a signal can reach
# its children too. Sets NETNS_LAST_PID.
netns_spawn() {
  _netns_check_host "$1" || return 1
  local i=$1 log=$2 ns pid st
  shift 2
  ns=$(netns_name "$i")
  # A background child of a non-interactive shell is not a group leader, so setsid(1) calls
  # setsid() and execs without forking: $! is the PID of CMD itself.
  setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
  pid=$!
  disown "$pid" # no "Killed" job reports; bash still reaps it
  st=$(_netns_starttime "$pid") || st=gone
  _netns_procs+=("$i $pid $st")
  # shellcheck disable=SC2034 # read by callers
  NETNS_LAST_PID=$pid
}

# netns_pids I: prints the PIDs netns_spawn started in host I that still run.
netns_pids() {
  local rec h pid st
  for rec in ${_netns_procs[@]+"${_netns_procs[@]}"}; do
    read -r h pid st <<<"$rec"
    [[ $h == "$1" ]] && _netns_is_ours "$pid" "$st" && echo "$pid"
  done
  return 0
}

# netns_alive I: true while a process netns_spawn started in host I still runs.
netns_alive() { [[ -n $(netns_pids "$1") ]]; }

# netns_kill I SIG [PID]: sends SIG (e.g. KILL, TERM) to the process groups netns_spawn started
# in host I, or only to PID's group when given. Unknown or finished PIDs are left alone.
netns_kill() {
  local i=$1 sig=$2 only=${3:-} rec h pid st
  for rec in ${_netns_procs[@]+"${_netns_procs[@]}"}; do
    read -r h pid st <<<"$rec"
    [[ $h == "$i" ]] || continue
    [[ -z $only || $only == "$pid" ]] || continue
    _netns_is_ours "$pid" "$st" && kill -s "$sig" -- "-$pid" 2>/dev/null
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
                 iifname \"u0\" $match $coin counter drop; }
" ;;&
    out | both) rules+="chain out { type filter hook output priority -200; policy accept;
                  oifname \"u0\" $match $coin counter drop; }
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
  netns_exec "$1" cat "/sys/class/net/u0/statistics/${2:-tx}_bytes"
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
  local k rec h pid st ns deadline left stray
  for ((k = ${#_netns_cleanups[@]} - 1; k >= 0; k--)); do
    eval "${_netns_cleanups[k]}" || true
  done
  _netns_cleanups=()

  for rec in ${_netns_procs[@]+"${_netns_procs[@]}"}; do
    read -r h pid st <<<"$rec"
    _netns_is_ours "$pid" "$st" && kill -s TERM -- "-$pid" 2>/dev/null
  done
  deadline=$(($(now_us) + 3000000))
  while (($(now_us) < deadline)); do
    left=0
    for rec in ${_netns_procs[@]+"${_netns_procs[@]}"}; do
      read -r h pid st <<<"$rec"
      _netns_is_ours "$pid" "$st" && left=1
    done
    ((left)) || break
    sleep 0.1
  done
  for rec in ${_netns_procs[@]+"${_netns_procs[@]}"}; do
    read -r h pid st <<<"$rec"
    _netns_is_ours "$pid" "$st" && kill -s KILL -- "-$pid" 2>/dev/null
  done
  _netns_procs=()

  # Our prefix is run-unique, so every namespace that carries it is ours, including one whose
  # creation a signal interrupted before it was recorded.
  if [[ -n $NETNS_PREFIX ]]; then
    while read -r ns _; do
      [[ $ns =~ ^${NETNS_PREFIX}-(br|h[0-9]+)$ ]] && _netns_names+=("$ns")
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
  _netns_cleaning=0
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
