#!/usr/bin/env bash
# End-to-end: gossip across real NAT routers (Linux conntrack masquerade, in namespaces).
#   usage: tests/e2e/nat_sites_test.sh PATH/TO/shoal
# Four sites, as in issue 20: h1 on the public segment; h2 and h3 behind cone NAT 1; h4 behind
# cone NAT 2; h5 behind a symmetric NAT (masquerade fully-random). Every site's LAN is
# 198.51.100.0/24. The agents are given nothing but h1 as their seed (and Advertise, their LAN
# address). With a cluster key:
# 1. every agent lists all 5 alive: gossip gets through every NAT;
# 2. each knows where it stands (`shoal status` nat:): h1 public and relaying, h2..h4 reachable
#    at their router's address. (h5 cannot tell its NAT is symmetric: that takes three outside
#    observers, and h1 is the only host outside any NAT. It advertises what h1 sees.)
# 3. the paths are what the NATs allow: the same LAN direct, cone to cone punched, symmetric to
#    NATed relayed, public to NATed punched (through the reflexive address);
# 4. NAT 1 restarts with other ports (its conntrack flushed, its masquerade moved to another port
#    range): h2 and h3 advertise their new address, nobody is declared dead.
# Pod traffic across the same NATs: tests/e2e/nat_pods_test.sh.
# Underlay 203.0.113.0/24 and 198.51.100.0/24, overlay 198.18.0.0/16; all removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/e2e/nat_sites.sh
source "$here/nat_sites.sh"
require_root "e2e.nat_sites"
shoal=$(realpath "${1:?usage: $0 PATH/TO/shoal}")

on_fail() {  # fail's extra diagnostics: members, punches, the routers' conntrack tables
  local i k m
  for i in 1 2 3 4 5; do
    echo "--- h$i: shoal members; punches" >&2
    ctl "$i" members >&2 || true
    for m in shoal_punch_attempts_total shoal_punches_total shoal_punch_acks_sent_total; do
      echo "$m $(netns_metric "$i" 9100 "$m")" >&2
    done
  done
  for k in 1 2 3; do
    echo "--- NAT $k: conntrack" >&2
    netns_nat_exec "$k" conntrack -L -p udp 2>/dev/null | grep 7946 >&2 || true
  done
}

work=$(mktemp -d /tmp/shoal-e2e-nat-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
nat_sites_setup "sn$$"

step "1. h1 public; h2, h3 behind cone NAT 1; h4 behind cone NAT 2; h5 behind a symmetric NAT"
nat_sites_start
wait_until 60 all_alive 5 "${nat_sites_hosts[@]}" || fail "not every agent lists 5 alive members within 60 s"
step "   all 5 see all 5 alive after $(us_to_secs "$WAIT_ELAPSED_US") s"

step "2. each host knows where it stands"
knows_itself() {
  [[ $(nat_line 1) == public:*relaying ]] &&
    [[ $(nat_line 2) == "reachable at 203.0.113.101:"* ]] &&
    [[ $(nat_line 3) == "reachable at 203.0.113.101:"* ]] &&
    [[ $(nat_line 4) == "reachable at 203.0.113.102:"* ]] &&
    [[ $(nat_line 5) == "reachable at 203.0.113.103:"* || $(nat_line 5) == "behind a symmetric"* ]]
}
wait_until 60 knows_itself ||
  fail "the hosts' NAT verdicts: $(for i in 1 2 3 4 5; do echo "h$i: $(nat_line "$i");"; done)"
for i in 1 2 3 4 5; do step "   h$i: $(nat_line "$i")"; done

step "3. the paths are what the NATs allow"
# Each agent probes each member every few seconds (5 members, one probe a second each).
expect_paths() {
  [[ $(path_of 2 h3) == direct && $(path_of 3 h2) == direct ]] || return 1
  [[ $(path_of 2 h1) == direct && $(path_of 5 h1) == direct ]] || return 1
  [[ $(path_of 2 h4) == punched && $(path_of 4 h2) == punched ]] || return 1
  [[ $(path_of 1 h2) == punched && $(path_of 1 h4) == punched ]] || return 1
  [[ $(path_of 2 h5) == relayed && $(path_of 5 h4) == relayed ]] || return 1
}
describe_paths() {
  local i j out=""
  for i in 1 2 3 4 5; do
    for j in 1 2 3 4 5; do ((i == j)) || out+="h$i->h$j $(path_of "$i" "h$j"); "; done
  done
  echo "$out"
}
wait_until 60 expect_paths || fail "unexpected paths: $(describe_paths)"
step "   $(describe_paths)"
dead=$(declared_dead)
((dead == 0)) || fail "$dead false deaths declared with every host alive"

step "4. NAT 1 restarts with other ports; nobody is declared dead"
before2=$(nat_line 2)
nat_sites_remap 1 || fail "could not restart NAT 1 with other ports"
moved() {
  local now2 now3
  now2=$(nat_line 2) now3=$(nat_line 3)
  [[ $now2 == "reachable at 203.0.113.101:400"* && $now3 == "reachable at 203.0.113.101:400"* ]]
}
wait_until 90 moved || fail "h2 and h3 did not advertise NAT 1's new ports: h2 $(nat_line 2); h3 $(nat_line 3)"
step "   h2 was $before2, now $(nat_line 2) ($(us_to_secs "$WAIT_ELAPSED_US") s)"
wait_until 60 all_alive 5 "${nat_sites_hosts[@]}" || fail "not every agent lists 5 alive members after the remap"
dead=$(declared_dead)
((dead == 0)) || fail "$dead false deaths declared around NAT 1's restart"
step "   all 5 alive, no false death"
echo "PASS e2e.nat_sites"
