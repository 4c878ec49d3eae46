#!/usr/bin/env bash
# End-to-end: an expired lease does not come back over a live one (issue 12's reproduction),
# with real agents, a 1-minute LeaseTTL and a pool of only two subnets.
#   usage: tests/e2e/lease_expiry_test.sh PATH/TO/shoal
# 1. h1 and h2 hold the two subnets. h2 is SIGKILLed; once its lease has expired, h3 joins,
#    takes h2's old subnet, settles and writes subnet.env.
# 2. h2 restarts from its data dir, which still holds its old claim with its old, earlier
#    stamp. h3 keeps the subnet (every agent lists it as h3's), and h2, finding the pool
#    full, says so: no subnet.env (its stale one is removed), `shoal status` gives the reason
#    and shoal_subnet_pool_exhausted is 1.
# 3. h1 leaves: h2 claims the subnet that frees up and writes subnet.env.
# Underlay 192.0.2.0/24, overlay 198.18.0.0/16; everything is removed on exit (trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.lease_expiry"
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal}")


work=$(mktemp -d /tmp/shoal-e2e-expiry-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
netns_setup "sx$$" 3

AGENT_FLAGS=(--subnet-min 198.18.1.0 --subnet-max 198.18.2.0 --lease-ttl 1m)
lists() {  # lists I NAME SUBNET: agent I's lease table gives SUBNET to NAME
  lease_table "$1" | grep -qx "$2 $3"
}
lists_no() {  # lists_no I NAME: agent I's lease table gives NAME nothing
  ! lease_table "$1" | grep -q "^$2 "
}
env_says() { [[ $(env_subnet "$1") == "$2" ]]; }  # env_says I SUBNET

step "1. h1 and h2 take the pool's two subnets; h2 is killed and its lease expires"
start_agent 1
start_agent 2
wait_until 30 same_leases 2 1 2 || fail "h1 and h2 do not list the same 2 leases"
s2=$(own_subnet 2)
wait_until 20 env_says 2 "$s2" || fail "h2's subnet.env does not name its lease $s2"
netns_kill 2 KILL
step "   h2 held $s2 and was SIGKILLed; waiting for its lease to expire (TTL 1m)"
wait_until 100 lists_no 1 h2 || fail "h1 still lists h2's lease 100 s after the kill"
step "   expired on h1 $(us_to_secs "$WAIT_ELAPSED_US") s after the kill"
start_agent 3
wait_until 30 env_says 3 "$s2" || fail "h3 did not take the freed subnet $s2: $(env_subnet 3 || true)"
step "   h3 took $s2 and wrote subnet.env"

step "2. h2 restarts from its data dir, with its old claim on $s2"
[[ -f $work/h2/subnet.env ]] || fail "the killed h2 left no subnet.env (the test needs its stale one)"
start_agent 2
exhausted() { [[ $(metric 2 shoal_subnet_pool_exhausted) == 1 ]]; }
wait_until 30 exhausted || fail "h2 does not report an exhausted pool"
step "   h2 reports the pool exhausted after $(us_to_secs "$WAIT_ELAPSED_US") s"
wait_until 10 test ! -e "$work/h2/subnet.env" || fail "h2's stale subnet.env still names $(env_subnet 2)"
status=$(ctl 2 status) || fail "shoal status failed on h2"
grep -q "pool exhausted" <<<"$status" || fail "shoal status on h2 does not say why it has no subnet: $status"
# Once h1 and h3 hold h2's record from this run (its claim dropped), nothing may move.
sees_h2_without_claim() { alive_on "$1" h2 && lists_no "$1" h2; }
for i in 1 3; do
  wait_until 30 sees_h2_without_claim "$i" || fail "h$i does not list h2 alive without a lease"
done
for i in 1 2 3; do lists "$i" h3 "$s2" || fail "h$i no longer gives $s2 to h3: $(lease_table "$i")"; done
env_says 3 "$s2" || fail "h3's subnet.env lost $s2"
step "   h3 keeps $s2 on every host; h2 holds none, its subnet.env is removed"

step "3. h1 leaves: h2 claims the subnet that frees up"
s1=$(own_subnet 1)
ctl 1 leave >/dev/null || fail "shoal leave failed on h1"
wait_until 30 env_says 2 "$s1" || fail "h2 did not claim $s1 after h1 left"
[[ $(metric 2 shoal_subnet_pool_exhausted) == 0 ]] || fail "h2 still reports an exhausted pool"
step "   h2 claimed $s1 $(us_to_secs "$WAIT_ELAPSED_US") s after h1 left"
echo "PASS e2e.lease_expiry"
