#!/usr/bin/env bash
# e2e.keys: cluster-wide key rotation on 5 real agents with one member stopped.
#   usage: tests/e2e/keys_test.sh PATH/TO/shoal
# Each agent has a key file of its own, holding the old key K1.
# 1. h5 stops (SIGTERM, as `systemctl stop` does).
# 2. `shoal keys install K2` on h1: the answer says 4 of 4 live members have it, and every
#    live agent's key file holds K2.
# 3. `shoal keys use K2` on h2: every live agent seals with K2.
# 4. h5 starts again, holding only K1 (still accepted): it reads the answer to its join (sealed
#    in K1) and takes the cluster's keyring: K2 primary, K1 accepted.
# 5. `shoal keys remove K1` on h3: 5 of 5 have it. Every key file holds K2 alone, all five
#    stay alive, and removing the primary is refused.
# Underlay 192.0.2.0/24, overlay 198.18.0.0/16; everything is removed on exit (trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.keys"
need_packages jq
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal}")
work=$(mktemp -d /tmp/shoal-keys.XXXXXX)
netns_at_cleanup "rm -rf $work"

primary_of() { ctl "$1" keys list --json | jq -r '.keys[] | select(.primary) | .keyId'; }
key_count() { ctl "$1" keys list --json | jq '.keys | length'; }
file_keys() { grep -vc '^#' "$work/h$1/cluster.key"; }  # keys in host I's key file

netns_setup "ky$$" 5
umask 077
"$shoal" keygen >"$work/k1"
"$shoal" keygen >"$work/k2"
for i in 1 2 3 4 5; do
  mkdir -p "$work/h$i"
  cp "$work/k1" "$work/h$i/cluster.key"
  start_agent "$i" --key-file "$work/h$i/cluster.key"  # each its own key file
done
wait_until 60 all_alive 5 1 2 3 4 5 || fail "the 5 agents did not all see 5 alive members"
k1=$(primary_of 1)

step "1. h5 stops (SIGTERM)"
netns_kill 5 TERM
wait_until 10 not netns_alive 5 || fail "h5 did not stop"
wait_until 20 all_alive 4 1 2 3 4 || fail "the others still count h5 alive"

step "2. install K2 on h1: every live member has it"
out=$(ctl 1 keys install "$(cat "$work/k2")") || fail "install on h1 failed: $out"
echo "$out"
grep -q "4 of 4 live members have it" <<<"$out" || fail "the answer does not say 4 of 4 have it"
grep -q "not running, will catch up if they come back: h5" <<<"$out" || fail "the answer does not name h5 as not running"
k2=$(ctl 1 keys list --json | jq -r --arg k1 "$k1" '.keys[] | select(.keyId != $k1) | .keyId')
for i in 1 2 3 4; do
  [[ $(key_count "$i") == 2 && $(file_keys "$i") == 2 ]] || fail "h$i does not hold 2 keys after the install"
done

step "3. use K2 on h2: every live member seals with it"
out=$(ctl 2 keys use "$k2") || fail "use on h2 failed: $out"
echo "$out"
for i in 1 2 3 4; do [[ $(primary_of "$i") == "$k2" ]] || fail "h$i does not seal with $k2"; done

step "4. h5 comes back holding only K1 and takes the cluster's keyring"
[[ $(file_keys 5) == 1 ]] || fail "h5's key file changed while it was down"
start_agent 5 --key-file "$work/h5/cluster.key"
h5_current() { [[ $(primary_of 5 2>/dev/null) == "$k2" && $(key_count 5) == 2 ]]; }
wait_until 30 h5_current || fail "h5 did not take the cluster's keyring (K2 primary, K1 accepted)"
step "   h5 took it after $(us_to_secs "$WAIT_ELAPSED_US") s"
grep -q "applied cluster keyring" "$work/h5.log" || fail "h5 did not log the keyring it applied"
wait_until 30 all_alive 5 1 2 3 4 5 || fail "h5 is not alive everywhere"

step "5. remove K1 on h3: all 5 have it, K2 alone remains"
out=$(ctl 3 keys remove "$k1") || fail "remove on h3 failed: $out"
echo "$out"
grep -q "5 of 5 live members have it" <<<"$out" || fail "the answer does not say 5 of 5 have it"
for i in 1 2 3 4 5; do
  [[ $(key_count "$i") == 1 && $(primary_of "$i") == "$k2" ]] || fail "h$i does not hold K2 alone"
  [[ $(file_keys "$i") == 1 ]] && grep -qF "$(cat "$work/k2")" "$work/h$i/cluster.key" ||
    fail "h$i's key file does not hold K2 alone"
done
sleep 3  # a few probe rounds sealed with K2 alone
all_alive 5 1 2 3 4 5 || fail "a member was lost after the old key went"
if out=$(ctl 4 keys remove "$k2" 2>&1); then fail "removing the primary key was allowed"; fi
grep -q "primary" <<<"$out" || fail "the refusal to remove the primary does not say why: $out"
echo "PASS: e2e.keys (K1 $k1 -> K2 $k2 on 5 agents, one of them down for the install and the use)"
