#!/usr/bin/env bash
# e2e.fault: the agent's test-only fault API (`shoal fault`) on 3 real agents.
#   usage: tests/e2e/fault_test.sh PATH/TO/shoal
# 1. h3 runs without AllowFaults: it refuses. Another user is refused by h1 even when the
#    socket's mode would let it in (the agent checks SO_PEERCRED).
# 2. `shoal fault drop h2 h3 --for 12` on h1 cuts h1 off: both sides lose it; the fault is
#    listed, in the kernel, and expires on its own: all three are alive again, no clear needed.
# 3. A one-way fault, loss, and `clear` by id: listed and ended.
# 4. `shoal fault clock +13h` on h1 moves the wall clock h1 reads: past its renewal age
#    (half the 24 h TTL), h1 renews its lease, and h2 sees it renewed 13 h in the future. No
#    nft table, no member lost, and `clear` puts the clock back.
# 5. A fault outlives a SIGKILLed agent only until it expires (the kernel's set timeouts), and
#    the restarted agent starts with no fault table.
# Underlay 192.0.2.0/24, overlay 198.18.0.0/16; everything is removed on exit (trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.fault"
need_packages jq nftables util-linux
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal}")
work=$(mktemp -d /tmp/shoal-fault.XXXXXX)
netns_at_cleanup "rm -rf $work"

sees() { [[ $(member_state "$1" "$2") == "$3" ]]; }  # sees I NAME STATE
lost() { [[ $(member_state "$1" "$2") != alive ]]; } # lost I NAME: suspect or dead
fault_table() { netns_exec "$1" nft list table inet shoal_faults 2>/dev/null; }
# Read the whole table before grep: `nft ... | grep -q` fails under pipefail when grep's early
# exit cuts nft's output short (SIGPIPE), which made step 3 fail once in CI.
fault_rule() {
  local table
  table=$(fault_table "$1") || return 1
  grep -q -- "$2" <<<"$table"
}
fault_count() { ctl "$1" fault list --json | jq '.faults | length'; }

netns_setup "fl$$" 3
start_agent 1 --allow-faults true
start_agent 2 --allow-faults true
start_agent 3
wait_until 60 all_alive 3 1 2 3 || fail "the 3 agents did not all see each other alive"
wait_until 30 settled 1 2 3 || fail "the agents did not probe each other"

step "1. refusals: no AllowFaults on h3; another user on h1"
out=$(ctl 3 fault drop h1 2>&1) && fail "h3 accepted a fault without AllowFaults"
grep -q "faults are off on this agent" <<<"$out" || fail "h3's refusal does not say why: $out"
chmod 755 "$work" "$work/h1"
chmod 666 "$work/h1/shoal.sock"  # only the agent's own check is left to refuse
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$shoal" fault list --control-socket "$work/h1/shoal.sock" 2>&1) && fail "uid 65534 was served"
grep -q "only for root or the agent's own user; uid 65534" <<<"$out" || fail "unexpected answer: $out"
chmod 600 "$work/h1/shoal.sock"
step "   h3: faults are off; uid 65534 refused by h1"

step "2. h1 drops everything to and from h2 and h3 for 12 s"
added=$(date +%s)
ctl 1 fault drop h2 h3 --for 12 || fail "the fault was not added"
[[ $(fault_count 1) == 1 ]] || fail "h1 does not list its fault"
ctl 1 fault list --json | jq -e '.faults[0].targets | index("192.0.2.12/32")' >/dev/null ||
  fail "h2's underlay address is not among the fault's targets"
fault_rule 1 "192.0.2.12" || fail "the kernel has no fault rule for h2's address"
wait_until 15 lost 2 h1 || fail "h2 still sees h1 alive behind the fault"
wait_until 15 lost 1 h2 || fail "h1 still sees h2 alive behind the fault"
sees 2 h3 alive || fail "h2 lost h3, which the fault does not touch"
step "   h1 and h2 lost each other; h2 and h3 still fine"
wait_until 30 all_alive 3 1 2 3 || fail "the cluster did not heal after the fault expired"
[[ $(fault_count 1) == 0 ]] || fail "h1 still lists the expired fault"
fault_table 1 && fail "the fault table is still there after the fault expired"
grep -q "fault 1 expired" "$work/h1.log" || fail "h1 did not log the expiry"
step "   expired on its own after $(($(date +%s) - added)) s; all alive again, table gone"

step "3. one-way and loss faults, and clear by id"
ctl 2 fault drop h1 --in --for 60 >/dev/null || fail "one-way fault refused"
ctl 2 fault loss 30 h3 --out --for 60 >/dev/null || fail "loss fault refused"
listed=$(ctl 2 fault list --json)
jq -e '.faults[0].direction == "in" and .faults[0].lossPercent == 100' <<<"$listed" >/dev/null ||
  fail "the one-way fault is not listed as in-only: $listed"
jq -e '.faults[1].direction == "out" and .faults[1].lossPercent == 30' <<<"$listed" >/dev/null ||
  fail "the loss fault is not listed as 30 % out: $listed"
fault_rule 2 "numgen random mod 100 < 30" || fail "no 30 % loss rule in the kernel"
out=$(ctl 2 fault drop nobody 2>&1) && fail "a fault on an unknown peer was accepted"
grep -q "no other member is named" <<<"$out" || fail "unknown peer: unexpected answer: $out"
ctl 2 fault clear 1 >/dev/null || fail "clear 1 failed"
[[ $(fault_count 2) == 1 ]] || fail "clear 1 did not leave exactly the loss fault"
ctl 2 fault clear >/dev/null || fail "clear all failed"
[[ $(fault_count 2) == 0 ]] && ! fault_table 2 || fail "clear all left a fault"
step "   listed as asked; cleared by id, then all"

step "4. h1's wall clock 13 h ahead"
renewed_ahead() {  # h2 sees h1's lease renewed more than 12 h from now
  local renewed now_ms
  renewed=$(ctl 2 leases --json | jq -r '.leases[] | select(.node == "h1") | .renewedAtMs')
  now_ms=$(($(date +%s) * 1000))
  [[ -n $renewed ]] && ((renewed > now_ms + 12 * 3600 * 1000))
}
renewed_ahead && fail "h1's lease is renewed in the future before its clock moved"
ctl 1 fault clock +13h --for 60 >/dev/null || fail "the clock fault was refused"
ctl 1 fault list --json | jq -e '.faults[0].clockOffsetMs | tonumber == 46800000' >/dev/null ||
  fail "the clock fault is not listed with its offset: $(ctl 1 fault list --json)"
fault_table 1 && fail "a clock fault made an nft table"
wait_until 25 renewed_ahead || fail "h1 did not renew its lease on the moved clock"
all_alive 3 1 2 3 || fail "a member was lost while h1's clock was 13 h ahead"
ctl 1 fault clear >/dev/null || fail "the clock fault was not cleared"
[[ $(fault_count 1) == 0 ]] || fail "h1 still lists the clock fault"
grep -q "wall clock moved +46800 s" "$work/h1.log" || fail "h1 did not log its clock move"
step "   h1 renewed its lease 13 h ahead, as h2 sees it; nobody lost; cleared"

step "5. a fault outlives a SIGKILLed agent only until it expires"
ctl 2 fault drop h3 --for 6 >/dev/null || fail "fault refused"
netns_kill 2 KILL
wait_until 10 not netns_alive 2 || fail "h2 did not die"
fault_rule 2 "192.0.2.13" || fail "the fault's addresses are gone before it expired"
gone() { ! fault_rule 2 "192.0.2.13"; }
wait_until 10 gone || fail "the kernel did not expire the dead agent's fault"
start_agent 2 --allow-faults true
wait_until 30 all_alive 3 1 2 3 || fail "h2 did not come back"
fault_table 2 && fail "the restarted agent kept the old fault table"
step "   the kernel expired it; the restarted h2 has no fault table"
step "PASS"
