#!/usr/bin/env bash
# End-to-end: real shoal agents, each in its own network namespace on one bridge.
#   usage: tests/e2e/agent_cluster_test.sh PATH/TO/shoal
# 1. 5 agents with a cluster key join through one seed: every agent lists 5 alive members
#    and the same 5 leases; each subnet.env matches its own lease.
# 2. Garbage datagrams and stream bytes to a running agent: dropped and counted, the
#    cluster stays whole.
# 3. A 6th agent with the wrong key never joins; the others count its packets as refused.
# 4. SIGKILL one agent: every survivor declares it dead. Restart it: same subnet.
# 5. Key rotation, each step on one host and spread to all (install on h1, use on h2, remove
#    on h3), loses no member. (e2e.keys rotates with a member down.)
# 6. SIGTERM one agent: it stops cleanly and keeps its lease; restarted without a seed, it
#    rejoins through the peers its store remembers, with the same subnet.
# 7. `shoal leave`: the agent exits, the others list it as left and drop its lease, and
#    its subnet.env is gone.
# Underlay 192.0.2.0/24, overlay 198.18.0.0/16; everything is removed on exit (trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.agent_cluster"
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal}")


work=$(mktemp -d /tmp/shoal-e2e-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
netns_setup "se$$" 6
"$shoal" keygen >"$work/key" && chmod 600 "$work/key"
"$shoal" keygen >"$work/wrong.key" && chmod 600 "$work/wrong.key"

grew() {  # grew I METRIC BEFORE: the metric is above BEFORE now
  (($(metric "$1" "$2") > $3))
}
all_see() {  # all_see N STATE HOSTS...: every listed agent sees N members in STATE
  local n=$1 state=$2 i
  shift 2
  for i in "$@"; do [[ $(count_state "$i" "$state") -eq $n ]] || return 1; done
}
step "1. five agents join through h1"
for i in 1 2 3 4 5; do start_agent "$i" --key-file "$work/key"; done
wait_until 60 all_see 5 alive 1 2 3 4 5 || fail "not every agent lists 5 alive members"
step "   5 alive everywhere after $(us_to_secs "$WAIT_ELAPSED_US") s"
wait_until 60 same_leases 5 1 2 3 4 5 || fail "the agents do not list the same 5 leases"
step "   the same 5 leases everywhere after $(us_to_secs "$WAIT_ELAPSED_US") s"
for i in 1 2 3 4 5; do
  wait_until 20 test -f "$work/h$i/subnet.env" || fail "h$i wrote no subnet.env"
  [[ $(env_subnet "$i") == "$(own_subnet "$i")" ]] ||
    fail "h$i: subnet.env says $(env_subnet "$i"), its lease is $(own_subnet "$i")"
done
grep -q '^FLANNEL_NETWORK=198.18.0.0/16$' "$work/h1/subnet.env" || fail "bad FLANNEL_NETWORK"
subnet5=$(own_subnet 5)

step "2. garbage to h1: random datagrams and stream bytes"
netns_exec 2 bash -c '
  for n in $(seq 1 200); do head -c $((RANDOM % 1500 + 1)) /dev/urandom >/dev/udp/'"$(netns_addr 1)"'/7946; done
  for n in $(seq 1 20); do
    exec 3<>/dev/tcp/'"$(netns_addr 1)"'/7946 && head -c $((RANDOM % 5000 + 1)) /dev/urandom >&3; exec 3>&-
  done' 2>/dev/null || true
garbage_dropped() {
  local reason sum=0
  for reason in too_short too_large bad_version unknown_key bad_auth bad_kind; do
    sum=$((sum + $(metric 1 "shoal_packets_dropped_total{reason=\"$reason\"}")))
  done
  echo "$sum"
}
garbage_counted() { (($(garbage_dropped) >= 200)); }
wait_until 10 garbage_counted || fail "h1 counted only $(garbage_dropped) of the 220 garbage inputs as dropped"
dropped=$(garbage_dropped)
all_see 5 alive 1 2 3 4 5 || fail "the cluster lost a member after garbage input"
step "   h1 dropped and counted $dropped garbage inputs; all 5 still alive"

step "3. h6 with the wrong key"
unknown_key='shoal_packets_dropped_total{reason="unknown_key"}'
before=$(metric 1 "$unknown_key")
start_agent 6 --key-file "$work/wrong.key"
# h6 joins through h1: once h1 has refused some of its packets, h6 has tried to get in.
wait_until 20 grew 1 "$unknown_key" "$before" || fail "h1 did not count h6's packets as unknown_key"
[[ $(count_state 6 alive) -eq 1 ]] || fail "h6 (wrong key) sees other members"
all_see 5 alive 1 2 3 4 5 || fail "a member with the wrong key got in"
step "   h1 refused $(($(metric 1 "$unknown_key") - before)) of h6's packets and streams (unknown_key)"
netns_kill 6 TERM

step "4. SIGKILL h5"
netns_kill 5 KILL
wait_until 60 all_see 1 dead 1 2 3 4 || fail "not every survivor declared h5 dead"
step "   all survivors declared h5 dead after $(us_to_secs "$WAIT_ELAPSED_US") s"
rm -f "$work/h5/subnet.env"
start_agent 5 --key-file "$work/key"
wait_until 60 test -f "$work/h5/subnet.env" || fail "restarted h5 wrote no subnet.env"
[[ $(env_subnet 5) == "$subnet5" ]] || fail "h5 came back with $(env_subnet 5), had $subnet5"
wait_until 60 all_see 5 alive 1 2 3 4 5 || fail "h5 is not alive everywhere after its restart"
step "   h5 is back with the same subnet $subnet5"

step "5. key rotation on the running cluster: install on h1, use on h2, remove on h3"
"$shoal" keygen >"$work/new.key"
old_id=$(ctl 1 keys list --json | jq -r '.keys[0].keyId')
ctl 1 keys install "$(cat "$work/new.key")" >/dev/null || fail "h1: install"
new_id=$(ctl 2 keys list --json | jq -r --arg old "$old_id" '.keys[] | select(.keyId != $old) | .keyId')
[[ -n $new_id ]] || fail "h2 did not get the key installed on h1"
# `use` is refused while h2 sees a live member that has not applied the change. It learns
# that from each member's gossip meta, and a meta update that gossip's few retransmits miss
# arrives with the next push-pull (15 s on the local profile): wait for it, bounded, rather
# than race it inside ctl's 10 s.
every_member_current() {
  ctl "$1" keys list --json |
    jq -e '(.keysMembers | length > 0) and ([.keysMembers[] | select(.state == "alive" or .state == "suspect") | .current] | all)' >/dev/null
}
wait_until 40 every_member_current 2 || fail "h2 does not see every member current 40 s after the install"
ctl 2 keys use "$new_id" >/dev/null || fail "h2: use"
# The same holds for h3's remove after h2's use (ctl's 10 s ended a remove still waiting once):
# h3 must have applied the use and see every member current with it.
h3_ready_to_remove() {
  ctl 3 keys list --json | jq -e --arg new "$new_id" '.keys[] | select(.keyId == $new) | .primary' >/dev/null &&
    every_member_current 3
}
wait_until 40 h3_ready_to_remove || fail "h3 has not applied the use and seen every member current 40 s after it"
ctl 3 keys remove "$old_id" >/dev/null || fail "h3: remove"
# Three probe rounds on every host sealed with the new key only, then the members are counted.
declare -A probes_at_removal
for i in 1 2 3 4 5; do probes_at_removal[$i]=$(metric "$i" shoal_probes_total); done
probed_thrice() {
  local i
  for i in 1 2 3 4 5; do grew "$i" shoal_probes_total $((probes_at_removal[$i] + 2)) || return 1; done
}
wait_until 30 probed_thrice || fail "the hosts did not probe three times within 30 s after the rotation"
all_see 5 alive 1 2 3 4 5 || fail "a member was lost during key rotation"
[[ $(ctl 3 keys list --json | jq '.keys | length') -eq 1 ]] || fail "h3 still holds more than one key"
grep -q "$(cat "$work/new.key")" "$work/key" || fail "the key file was not rewritten"
step "   rotated from $old_id to $new_id; all 5 still alive"
step "6. SIGTERM h4, restart it without a seed"
subnet4=$(own_subnet 4)
netns_kill 4 TERM
wait_until 10 netns_stopped 4 || fail "h4 did not stop within 10 s of SIGTERM"
grep -q "stopping; the lease is kept" "$work/h4.log" || fail "h4 did not log a clean stop"
grep -q "info stopped$" "$work/h4.log" || fail "h4 did not finish its clean stop"
wait_until 20 all_see 1 left 1 2 3 5 || fail "the others do not list h4 as left"
NO_SEED=1 start_agent 4 --key-file "$work/key"
wait_until 60 all_see 5 alive 1 2 3 4 5 || fail "h4 did not rejoin from its remembered peers"
grep -q "rejoining through .* remembered peer" "$work/h4.log" || fail "h4 did not use its store's peers"
wait_until 20 same_leases 5 1 2 3 4 5 || fail "leases differ after h4's restart"
[[ $(own_subnet 4) == "$subnet4" ]] || fail "h4 came back with $(own_subnet 4), had $subnet4"
step "   h4 rejoined from its store after $(us_to_secs "$WAIT_ELAPSED_US") s, same subnet $subnet4"

step "7. shoal leave on h3"
ctl 3 leave >/dev/null || fail "shoal leave failed on h3"
wait_until 10 netns_stopped 3 || fail "h3 did not exit after shoal leave"
grep -q "left the cluster; subnet released" "$work/h3.log" || fail "h3 did not log its leave"
[[ ! -e $work/h3/subnet.env ]] || fail "h3 left its subnet.env behind"
wait_until 20 all_see 1 left 1 2 4 5 || fail "the others do not list h3 as left"
wait_until 20 same_leases 4 1 2 4 5 || fail "the others still hold h3's lease"
step "   h3 left; its lease is gone everywhere after $(us_to_secs "$WAIT_ELAPSED_US") s"
echo "PASS: e2e.agent_cluster"
