# shellcheck shell=bash
# shellcheck disable=SC2154 # $shoal and $work are the caller's
# The four sites of issue 20 as namespaces, and what tests and benchmarks ask of their agents
# (tests/e2e/nat_sites_test.sh, bench/nat.sh). Source after netns.sh and cluster.sh; the caller
# sets $shoal and $work.
#   h1 public (203.0.113.11); h2, h3 behind cone NAT 1 (203.0.113.101); h4 behind cone NAT 2
#   (203.0.113.102); h5 behind a symmetric NAT 3 (203.0.113.103). Every site's LAN is
#   198.51.100.0/24. Agents: udp gossip with a cluster key, h1 the only seed. The datapath is
#   nat_sites_backend: host-gw by default (nothing to route: no two hosts share a segment), or
#   (backend udp) the encrypted udp tunnel with keepalives every 5 s, which carries pods across.

nat_sites_hosts=(1 2 3 4 5)
nat_sites_backend=(--backend host-gw)
# nat_sites_udp [KEEPALIVE_S]: agents started after this use the encrypted udp tunnel (keepalives
# every KEEPALIVE_S, 5 by default: tests want NAT changes found fast; benchmarks pass 25, the
# agent's default).
nat_sites_udp() {
  nat_sites_backend=(--backend udp --encrypt true --keepalive-seconds "${1:-5}")
}

# nat_sites_setup PREFIX: the namespaces, routers and a cluster key.
nat_sites_setup() {
  need_packages conntrack
  netns_setup_sites "$1" 1 cone:2 cone:1 symmetric:1
  "$shoal" keygen >"$work/key" && chmod 600 "$work/key"
}

# nat_sites_start [--gate]: starts the 5 agents (with --gate, behind netns_gate_close's gate).
nat_sites_start() {
  local i
  for i in "${nat_sites_hosts[@]}"; do nat_sites_agent "$@" "$i"; done
}
nat_sites_agent() {  # nat_sites_agent [--gate] I
  local gate=()
  [[ $1 == --gate ]] && gate=(--gate) && shift
  # Behind a NAT an agent binds every address and advertises its LAN one.
  AGENT_BIND=0.0.0.0:7946 start_agent "${gate[@]}" "$1" --advertise "$(netns_addr "$1")" \
    "${nat_sites_backend[@]}" --key-file "$work/key"
}
# nat_sites_pods_reach: pod 1 of every host pings pod 1 of every other (after add_pods).
nat_sites_pods_reach() {
  local i k
  for i in "${nat_sites_hosts[@]}"; do
    for k in "${nat_sites_hosts[@]}"; do
      ((i == k)) || ppings "$i" 1 "${podip[$k 1]}" || return 1
    done
  done
}
nat_line() { ctl "$1" status --json 2>/dev/null | jq -r '.status.nat'; } # where agent I stands
path_of() { member_field "$1" "$2" path; } # path_of I NAME: how agent I reaches member NAME
declared_dead() {  # members declared dead by all agents together
  local i sum=0
  for i in "${nat_sites_hosts[@]}"; do
    sum=$((sum + $(netns_metric "$i" 9100 shoal_declared_dead_total)))
  done
  echo "$sum"
}
# nat_sites_remap K: router K restarts with other ports: its masquerade moves to 40000-40099
# and its conntrack table is flushed.
nat_sites_remap() {
  netns_nat_exec "$1" nft flush chain ip nat post &&
    netns_nat_exec "$1" nft add rule ip nat post oifname wan meta l4proto '{ tcp, udp }' \
      masquerade to :40000-40099 &&
    netns_nat_exec "$1" conntrack -F >/dev/null 2>&1
}
