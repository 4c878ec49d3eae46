#!/usr/bin/env bash
# bench/partition_heal.sh: how long real agents take to agree again after a partition heals.
# 10 shoal agents in network namespaces (tests/e2e/netns.sh) join; nftables on every host then
# drops all traffic between hosts 1-5 and hosts 6-10 until each side lists the other as dead
# and the cut's length has passed; then the rules go. One round per length in PARTITION_S
# (default "30 180": the heal time must not grow with the cut; "30 180 600" is the long run).
#
# Figures (other lines start with '#'):
#   heal_s.n10.cut<L>     s  from the heal until every agent lists all 10 members alive (each
#                            agent polled with `shoal members`, every 0.2 s), cut of L s
#   heal_converge_s.n10   s  the worst of those
#   dead_s.n10            s  from the cut until every agent lists the other side as dead (median)
# Environment: PARTITION_S ("30 180"), ROUNDS (1 per length; more gives the median).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
require_root partition_heal
need_packages nftables
shoal=$root/build/release/cli/shoal
read -r -a lengths <<<"${PARTITION_S:-30 180}"
rounds=${ROUNDS:-1}
n=10

work=$(mktemp -d /tmp/shoal-bench-heal-XXXXXX)
netns_at_cleanup "rm -rf '$work'"
netns_setup "bh$$" "$n"
for i in $(seq 1 "$n"); do
  netns_spawn "$i" "$work/h$i.log" "$shoal" agent --name "h$i" --network 198.18.0.0/16 \
    --bind "$(netns_addr "$i"):7946" --seed "$(netns_addr 1):7946" --data-dir "$work/h$i" \
    --subnet-file "$work/h$i/subnet.env" --control-socket "$work/h$i/shoal.sock" --backend host-gw
done
count() {  # count I STATE: members agent I lists in STATE
  "$shoal" members --control-socket "$work/h$1/shoal.sock" 2>/dev/null | awk -v s="$2" 'NR > 1 && $4 == s' | wc -l
}
all_alive() { for i in $(seq 1 "$n"); do (($(count "$i" alive) == n)) || return 1; done; }
sides_dead() { for i in $(seq 1 "$n"); do (($(count "$i" dead) == n / 2)) || return 1; done; }
others() {  # others I: the underlay addresses of the side host I is not on, as an nft set
  local i=$1 j list=""
  for j in $(seq 1 "$n"); do
    if (((i <= n / 2) != (j <= n / 2))); then list+="${list:+, }$(netns_addr "$j")"; fi
  done
  echo "{ $list }"
}
wait_until 60 all_alive || { echo "# the agents did not converge"; exit 1; }
echo "# $n agents alive"

deads=() worst=0
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for partition_s in "${lengths[@]}"; do
  heals=()
  for round in $(seq 1 "$rounds"); do
    for i in $(seq 1 "$n"); do
      netns_exec "$i" nft -f - <<EOF
table ip heal_bench {
  chain out { type filter hook output priority 0; policy accept; ip daddr $(others "$i") drop; }
  chain in { type filter hook input priority 0; policy accept; ip saddr $(others "$i") drop; }
}
EOF
    done
    cut=$(now_us)
    WAIT_INTERVAL=0.5 wait_until 180 sides_dead || { echo "# the sides never saw each other dead"; exit 1; }
    deads+=("$(us_to_secs $(($(now_us) - cut)))")
    rest=$((partition_s * 1000000 - ($(now_us) - cut)))
    ((rest > 0)) && sleep "$(us_to_secs "$rest")"
    for i in $(seq 1 "$n"); do netns_exec "$i" nft delete table ip heal_bench; done
    healed=$(now_us)
    WAIT_INTERVAL=0.2 wait_until 120 all_alive || { echo "# not whole again 120 s after the heal"; exit 1; }
    heals+=("$(us_to_secs $(($(now_us) - healed)))")
    echo "# cut of $partition_s s, round $round: dead after ${deads[-1]} s, whole again ${heals[-1]} s after the heal"
  done
  heal=$(median "${heals[@]}")
  echo "figure heal_s.n10.cut$partition_s $heal s"
  worst=$(awk -v a="$worst" -v b="$heal" 'BEGIN { print (b > a ? b : a) }')
done
echo "figure dead_s.n10 $(median "${deads[@]}") s"
echo "figure heal_converge_s.n10 $worst s"
