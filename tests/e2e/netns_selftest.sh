#!/usr/bin/env bash
# Self-test of tests/e2e/netns.sh: builds three hosts, checks they reach each other, that loss
# injection drops what it should and clears, that spawned processes are tracked and killed, and
# that nothing with the run's prefix survives cleanup: after a normal end, after a script that
# fails midway, after SIGTERM, with its output gone, and with a caller's own EXIT trap kept.
#   bash tests/e2e/netns_selftest.sh        (root; prints SKIP and exits 77 otherwise)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
child_prefix="sf$$" # the prefix of the child scripts below, which have harnesses of their own
# If a child's cleanup is broken, remove what it left (the test has failed by then). Set before
# sourcing: the library keeps this trap and runs it after its own.
sweep() {
  local ns pids
  for ns in $(ip netns list | awk -v p="^$child_prefix-" '$1 ~ p { print $1 }'); do
    pids=$(ip netns pids "$ns")
    # shellcheck disable=SC2086 # a list of PIDs
    [[ -z $pids ]] || kill -s KILL $pids
    ip netns del "$ns"
  done
  rm -rf "$work"
}
trap sweep EXIT
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
require_root netns_selftest
need_packages iputils-ping nftables

passed=0
failed=0
# check DESCRIPTION CMD...: runs CMD, counts and prints the outcome; never aborts the test.
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}


# pings I J: host I reaches host J (one ping, one second).
pings() { netns_exec "$1" ping -c 1 -W 1 -q "$(netns_addr "$2")" >/dev/null 2>&1; }

# received_of I J COUNT: how many of COUNT fast pings from I to J came back.
received_of() {
  netns_exec "$1" ping -c "$3" -i 0.005 -W 1 -q "$(netns_addr "$2")" 2>/dev/null |
    awk '/received/ { print $4 }'
}

# leftovers PREFIX: prints every namespace, device or veth peer whose name carries PREFIX.
leftovers() {
  ip netns list | grep -E "^$1-" || true
  ip -o link show | grep -F "$1" || true
}

# same_netns PID I: process PID lives in host I's namespace.
same_netns() {
  [[ $(readlink "/proc/$1/ns/net") == "$(netns_exec "$2" readlink /proc/self/ns/net)" ]]
}

prefix="st$$"
echo "# netns selftest, prefix $prefix"

# ---- topology --------------------------------------------------------------------------------
netns_setup "$prefix" 3
check "4 namespaces exist" test "$(ip netns list | grep -cE "^$prefix-")" -eq 4
check "host 2 has 192.0.2.12/24 on u0" \
  bash -c "ip -n $prefix-h2 -o addr show u0 | grep -q 'inet 192.0.2.12/24'"
check "host 3 loopback is up" bash -c "ip -n $prefix-h3 link show lo | grep -q UP"
check "no device in the root namespace carries the prefix" \
  not bash -c "ip -o link show | grep -qF '$prefix'"
check "unknown host is refused" not netns_exec 9 true
check "second setup without cleanup is refused" not netns_setup "${prefix}x" 2
for pair in "1 2" "1 3" "2 3" "3 1"; do
  read -r a b <<<"$pair"
  check "h$a pings h$b" pings "$a" "$b"
done

# ---- loss ------------------------------------------------------------------------------------
netns_loss 2 100
check "100% loss on h2: h1 no longer reaches h2" not pings 1 2
check "100% loss on h2: h2 no longer reaches h3" not pings 2 3
check "100% loss on h2: h1 still reaches h3" pings 1 3
check "the loss rule counted drops" test "$(netns_loss_drops 2)" -gt 0
netns_loss_clear 2
check "after clearing, h1 reaches h2" pings 1 2
check "clearing twice is harmless" netns_loss_clear 2
netns_loss --proto udp 2 100
check "100% UDP-only loss leaves ICMP through" pings 1 2
netns_loss_clear 2
netns_loss --dir out 1 30
got=$(received_of 1 2 200)
echo "# 30% egress loss on h1: $got of 200 pings came back"
check "30% egress loss: between 100 and 180 of 200 pings come back" \
  test "$got" -ge 100 -a "$got" -le 180
netns_loss_clear 1
check "bad percent is refused" not netns_loss 1 101
check "bad direction is refused" not netns_loss --dir sideways 1 10

# ---- processes -------------------------------------------------------------------------------
netns_spawn 1 "$work/sleep.log" sleep 300
pid=$NETNS_LAST_PID
# The process enters the namespace a moment after netns_spawn returns (ip netns exec, then exec).
check "spawned process runs in h1's namespace" wait_until 2 same_netns "$pid" 1
check "spawned process is the command itself" test "$(cat "/proc/$pid/comm")" = sleep
check "spawned process leads its own process group" \
  test "$(ps -o pgid= -p "$pid" | tr -d ' ')" -eq "$pid"
check "netns_pids 1 lists it" test "$(netns_pids 1)" = "$pid"
check "netns_pids 2 is empty" test -z "$(netns_pids 2)"
netns_kill 1 KILL
check "netns_kill 1 KILL ends it within 5 s" wait_until 5 not netns_alive 1
netns_spawn 2 "$work/sleep2.log" sleep 300
survivor=$NETNS_LAST_PID

# Gate and stamps: two processes wait at the gate, start together when it opens, and their
# output lines carry the wall clock; the PID stays the command's own.
netns_gate_close
for h in 1 3; do
  netns_spawn --gate --stamp "$h" "$work/gated$h.log" sh -c 'echo started; exec sleep 300'
done
gated=$NETNS_LAST_PID
check "both gated processes wait at the gate" wait_until 5 netns_gate_waiting
check "gated processes have not started yet" test ! -s "$work/gated1.log" -a ! -s "$work/gated3.log"
netns_gate_open 5
check "after the gate opens both start" \
  wait_until 5 grep -q started "$work/gated1.log" "$work/gated3.log"
stamp=$(awk '{ sub(/\./, "", $1); print $1 }' "$work/gated3.log")
check "the stamp is within 0.5 s after the gate opened ($stamp vs $NETNS_GATE_OPENED_US)" \
  test "$stamp" -ge "$NETNS_GATE_OPENED_US" -a "$stamp" -lt "$((NETNS_GATE_OPENED_US + 500000))"
check "a gated process keeps its PID through exec" wait_until 2 grep -qx sleep "/proc/$gated/comm"
check "netns_pids 3 lists it" test "$(netns_pids 3)" = "$gated"
netns_kill 3 TERM
check "netns_kill 3 TERM ends it" wait_until 5 not netns_alive 3

start=$(now_us)
check "wait_until gives up on a false condition" not wait_until 0.5 false
elapsed=$(($(now_us) - start))
check "... after about 0.5 s (took $(us_to_secs "$elapsed") s)" \
  test "$elapsed" -ge 500000 -a "$elapsed" -lt 800000

# ---- cleanup after a normal end --------------------------------------------------------------
netns_cleanup
check "cleanup killed the process still running" not kill -0 "$survivor" 2>/dev/null
check "nothing with prefix $prefix remains after cleanup" test -z "$(leftovers "$prefix")"
check "cleanup twice is harmless" netns_cleanup
check "setup works again after cleanup" netns_setup "$prefix" 2
check "... and the hosts reach each other" pings 2 1
netns_cleanup

# ---- cleanup when a script fails, is signalled, or had its own trap --------------------------
lib="$here/netns.sh"
status=0
bash -c "set -euo pipefail; source '$lib'
  netns_setup $child_prefix 2
  netns_spawn 1 /dev/null sleep 300
  echo \$NETNS_LAST_PID > '$work/pid'
  false
  echo unreachable" >"$work/fail.out" 2>&1 || status=$?
check "a failing script exits non-zero ($status)" test "$status" -ne 0
check "... and did not run past the failure" not grep -q unreachable "$work/fail.out"
check "... its spawned process is gone" not kill -0 "$(cat "$work/pid")" 2>/dev/null
check "... nothing with prefix $child_prefix remains" test -z "$(leftovers "$child_prefix")"

rm -f "$work/ready" "$work/pid"
bash -c "set -euo pipefail; source '$lib'
  netns_setup $child_prefix 2
  netns_spawn 2 /dev/null sleep 300
  echo \$NETNS_LAST_PID > '$work/pid'
  touch '$work/ready'
  for ((k = 0; k < 300; k++)); do sleep 0.1; done" >/dev/null 2>&1 &
child=$!
check "a script in the background gets set up" wait_until 20 test -e "$work/ready"
kill -TERM "$child"
status=0
wait "$child" || status=$?
check "SIGTERM ends it with status 143 ($status)" test "$status" -eq 143
check "... its spawned process is gone" not kill -0 "$(cat "$work/pid")" 2>/dev/null
check "... nothing with prefix $child_prefix remains" test -z "$(leftovers "$child_prefix")"

# A cleanup whose output goes nowhere (`script 2>&1 | head`, the reader gone) must not die of
# SIGPIPE halfway. This one has something to say: a process inside its namespace that
# netns_spawn did not start, which cleanup must kill to free the namespace.
bash -c "set -euo pipefail; source '$lib'
  netns_setup $child_prefix 2
  ip netns exec $child_prefix-h2 sleep 300 &
  echo \$! > '$work/pid'
  disown" 2>&1 | true || true
check "a cleanup writing to a closed pipe still kills a stray process" \
  not kill -0 "$(cat "$work/pid")" 2>/dev/null
check "... nothing with prefix $child_prefix remains" test -z "$(leftovers "$child_prefix")"

status=0
out=$(bash -c "set -euo pipefail; trap 'echo caller-trap-ran' EXIT; source '$lib'
  netns_at_cleanup 'echo registered-cleanup-ran'
  netns_setup $child_prefix 1
  exit 3" 2>&1) || status=$?
check "a caller's EXIT trap still runs" grep -q caller-trap-ran <<<"$out"
check "a registered cleanup runs" grep -q registered-cleanup-ran <<<"$out"
check "the caller's exit status (3) is kept ($status)" test "$status" -eq 3
check "... nothing with prefix $child_prefix remains" test -z "$(leftovers "$child_prefix")"

echo "netns_selftest: $passed passed, $failed failed"
((failed == 0))
