# shellcheck shell=bash
# shellcheck disable=SC2154 # $shoal, $work and pods are the caller's (see below)
# The one library of the end-to-end tests that run shoal agents, on top of netns.sh (source
# that first): `start_agent`, their control socket (`ctl`), metrics (`metric`), lease table
# and subnet.env, their pods (source pods.sh too), and `step` and `fail` (a caller adds
# diagnostics to fail with a function on_fail). They expect the caller to set $shoal (the
# binary), $work (agent I keeps its files in $work/hI), for pods the array `pods` (pod
# numbers per host), and for agents the array AGENT_FLAGS (what its agents all add: backend,
# lease settings). Whole scenarios (partitions, crashes, freezes, lost databases, with
# verdicts) are shoal-chaos's job: docs/chaos.md.

# shellcheck source=tests/e2e/pods.sh
declare -F pods_network >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/pods.sh"

declare -gA podip=() # "I J" -> the address of pod J on host I

# step MESSAGE: one line of the test's story, with the time.
step() { echo "# $(date +%T) $*"; }

# fail MESSAGE: says what failed, runs the caller's on_fail if it defined one (its own
# diagnostics), shows the end of every agent's log ($FAIL_LOG_LINES lines, 15 by default),
# and exits 1; the harness's trap cleans up.
fail() {
  echo "FAIL: $*" >&2
  if declare -F on_fail >/dev/null; then on_fail >&2 2>&1 || true; fi
  local f
  for f in "$work"/h*.log; do
    [[ -e $f ]] || continue
    echo "--- $f (last ${FAIL_LOG_LINES:-15} lines)" >&2
    tail -n "${FAIL_LOG_LINES:-15}" "$f" >&2
  done
  exit 1
}

declare -p AGENT_FLAGS >/dev/null 2>&1 || AGENT_FLAGS=()

# start_agent [--gate] I [FLAGS...]: agent hI in host I's namespace (netns_spawn; --gate: behind
# netns_gate_close's gate), its files in $work/hI, its control socket where ctl looks, metrics on
# port 9100 of its underlay address (AGENT_BIND overrides --bind), overlay 198.18.0.0/16, joining
# through h1 (not h1 itself, nor when NO_SEED=1: it rejoins from its store), logging at
# AGENT_LOG_LEVEL (debug unless set). AGENT_FLAGS, then FLAGS, are added.
start_agent() {
  local gate=()
  [[ $1 == --gate ]] && gate=(--gate) && shift
  local i=$1 seed=(--seed "$(netns_addr 1):7946")
  shift
  [[ $i == 1 || ${NO_SEED:-0} == 1 ]] && seed=()
  netns_spawn "${gate[@]}" "$i" "$work/h$i.log" "$shoal" agent --name "h$i" \
    --network 198.18.0.0/16 --bind "${AGENT_BIND:-$(netns_addr "$i"):7946}" "${seed[@]}" \
    --data-dir "$work/h$i" --subnet-file "$work/h$i/subnet.env" \
    --control-socket "$work/h$i/shoal.sock" --metrics-addr "$(netns_addr "$i"):9100" \
    --log-level "${AGENT_LOG_LEVEL:-debug}" ${AGENT_FLAGS[@]+"${AGENT_FLAGS[@]}"} "$@"
}
metric() { netns_metric "$1" 9100 "$2"; } # metric I 'NAME{LABELS}': agent I's value, 0 when absent

ctl() {  # ctl I COMMAND...: a client command against agent I (bounded)
  local i=$1
  shift
  timeout 10 "$shoal" "$@" --control-socket "$work/h$i/shoal.sock"
}
# settled HOSTS...: each agent listed has sent two probes per other host. A new member that
# never answered a probe is not accused for gossip's join_grace (30 s): a test that cuts
# hosts off and waits for them to be noticed must wait for this first.
settled() {
  local i
  for i in "$@"; do (($(metric "$i" shoal_probes_total) >= 2 * ($# - 1))) || return 1; done
}
# What an agent lists, read from the CLI's --json answers (never its tables, made for people).
# member_field I NAME FIELD: FIELD of member NAME as agent I lists it (state, path, endpoint...).
member_field() {
  ctl "$1" members --json 2>/dev/null |
    jq -r --arg n "$2" --arg f "$3" '.members[] | select(.name == $n) | .[$f]'
}
member_state() { member_field "$1" "$2" state; } # member_state I NAME: alive, suspect, dead, left
count_state() {  # count_state I STATE: how many members agent I lists in STATE
  ctl "$1" members --json 2>/dev/null | jq --arg s "$2" '[.members[] | select(.state == $s)] | length'
}
all_alive() {  # all_alive N HOSTS...: every listed agent lists N members alive (itself included)
  local n=$1 i
  shift
  for i in "$@"; do [[ $(count_state "$i" alive) == "$n" ]] || return 1; done
}
# lease_field I NAME FIELD: FIELD of NAME's lease as agent I lists it (subnet, path, endpoint...).
lease_field() {
  ctl "$1" leases --json 2>/dev/null |
    jq -r --arg n "$2" --arg f "$3" '.leases[] | select(.node == $n) | .[$f]'
}
lease_table() {  # lease_table I: "name subnet" lines, sorted
  ctl "$1" leases --json 2>/dev/null | jq -r '.leases[] | "\(.node) \(.subnet)"' | sort
}
same_leases() {  # same_leases N HOSTS...: all list the same N leases
  local n=$1 first i
  shift
  first=$(lease_table "$1")
  [[ $(wc -l <<<"$first") -eq $n && -n $first ]] || return 1
  for i in "$@"; do [[ $(lease_table "$i") == "$first" ]] || return 1; done
}
alive_on() { [[ $(member_state "$1" "$2") == alive ]]; } # alive_on I NAME
own_subnet() { lease_field "$1" "h$1" subnet; } # own_subnet I: the subnet agent I's table gives hI
env_subnet() {  # env_subnet I: FLANNEL_SUBNET of agent I, as a network ("198.18.5.0/24")
  local value
  value=$(env_value "$1" FLANNEL_SUBNET) || return 1
  pods_network "$value" # the file holds the first usable address (198.18.5.1/24)
}
env_value() {  # env_value I KEY: KEY's value in host I's subnet.env
  local line
  line=$(grep "^$2=" "$work/h$1/subnet.env" 2>/dev/null) || return 1
  echo "${line#*=}"
}

# add_pods HOSTS...: the pods of `pods` on each host, attached by the CNI plugins from the host's
# subnet.env (pods.sh), their addresses in podip.
add_pods() {
  local i j
  for i in "$@"; do
    for j in "${pods[@]}"; do
      pod_add "$i" "$j" "$work/h$i/subnet.env" "$work/cni" || fail "could not add pod h${i}p$j"
      podip["$i $j"]=$(pod_addr "$i" "$j") || fail "pod h${i}p$j has no address"
    done
  done
}

ppings() { pod_exec "$1" "$2" ping -c 1 -W 1 -q "$3" >/dev/null 2>&1; }
# ping_pods HOSTS...: every pod on the listed hosts pings every pod on the other listed hosts.
ping_pods() {
  local i j k l n=0
  for i in "$@"; do
    for j in "${pods[@]}"; do
      for k in "$@"; do
        [[ $k == "$i" ]] && continue
        for l in "${pods[@]}"; do
          wait_until 10 ppings "$i" "$j" "${podip[$k $l]}" ||
            fail "pod h${i}p$j does not reach pod h${k}p$l (${podip[$k $l]})"
          n=$((n + 1))
        done
      done
    done
  done
  step "   $n pod-to-pod pings between hosts $* answered"
}
listening() { pod_exec "$1" "$2" ss -Hltn "sport = :$3" 2>/dev/null | grep -q LISTEN; }
# pod_transfer I J K L PORT FILE: FILE from pod J on host I to pod L on host K over TCP, checked
# byte for byte. Sets TRANSFER_FROM (the source address the receiver saw) and TRANSFER_SECS.
pod_transfer() {
  local i=$1 j=$2 k=$3 l=$4 port=$5 file=$6 rx started
  pod_exec "$k" "$l" timeout 60 nc -n -v -l "$port" >"$work/recv" 2>"$work/recv.err" </dev/null &
  rx=$!
  wait_until 5 listening "$k" "$l" "$port" || fail "pod h${k}p$l does not listen on $port"
  started=$(now_us)
  pod_exec "$i" "$j" timeout 60 nc -n -N -w 5 "${podip[$k $l]}" "$port" <"$file" ||
    fail "pod h${i}p$j could not send to h${k}p$l"
  wait "$rx" || fail "the receiver in h${k}p$l failed: $(cat "$work/recv.err")"
  TRANSFER_SECS=$(us_to_secs $(($(now_us) - started)))
  cmp -s "$work/recv" "$file" ||
    fail "h${i}p$j -> h${k}p$l: $(stat -c %s "$work/recv") bytes arrived, not the $(stat -c %s "$file") sent intact"
  # nc -v: "Connection received on ADDRESS PORT"
  TRANSFER_FROM=$(awk '/Connection received on/ { print $4 }' "$work/recv.err")
}
