#!/usr/bin/env bash
# bench/partition_heal.sh: how long real agents and their pods take to be whole again after a
# partition heals, measured by shoal-chaos on network namespaces (docs/chaos.md). Per cut
# length L in PARTITION_S (default "30 180": the heal time must not grow with the cut; "30 180
# 600" is the long run), one scenario: 10 hosts (vxlan, one pod each) join, then the switch
# drops every frame between hosts 1-5 and 6-10 for L s, then lets them through again.
#
# Figures (other lines start with '#'):
#   heal_converge_s.n10.cut<L>  s  from the heal until every agent sees all 10 alive, all hold
#                                  one owner map and no two overlap (agents sampled every 0.5 s)
#   heal_reach_s.n10.cut<L>     s  from the heal until every pod answers every pod on another
#                                  host (probe rounds every 250 ms: the first round sent
#                                  after the heal that all answer, to its last reply)
#   heal_converge_s.n10, heal_reach_s.n10   the worst of those (target: 3 s each)
# Time: about 75 s + L per length (~5 min by default). Root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "# partition_heal: needs root (network namespaces); skipped"
  exit 0
fi
chaos=$root/build/release/chaos/shoal-chaos
shoal=$root/build/release/cli/shoal
read -r -a lengths <<<"${PARTITION_S:-30 180}"
work=$(mktemp -d /tmp/shoal-bench-heal-XXXXXX)
trap 'rm -rf "$work"' EXIT

worst_converge=0 worst_reach=0
for cut in "${lengths[@]}"; do
  [[ $cut =~ ^[0-9]+$ && $cut -ge 5 && $cut -le 3600 ]] || { echo "partition_heal: cut '$cut' is not 5..3600 s" >&2; exit 2; }
  cat >"$work/cut$cut.json" <<JSON
{
  "name": "partition-heal-$cut",
  "summary": "10 hosts cut 5/5 for $cut s, then healed.",
  "topology": {"hosts": 10, "backend": "vxlan", "pods_per_host": 1},
  "duration_s": $((30 + cut + 30)),
  "timeline": [{"at_s": 30, "fault": "partition", "shape": "halves", "for_s": $cut}],
  "checks": {"converge_within_s": 3}
}
JSON
  status=0
  "$chaos" run "$work/cut$cut.json" --shoal "$shoal" --json >"$work/cut$cut.report" || status=$?
  if [[ $status -gt 1 ]]; then
    echo "# partition_heal: shoal-chaos could not run the cut of $cut s (exit $status)"
    exit 1
  fi
  # The first recovery after the partition: its two times (none when missing) and the verdict.
  read -r converge reach verdict < <(jq -r '
    ([.recoveries[] | select(.after | contains("partition"))] | first) as $heal
    | def value(k): if $heal == null or $heal[k] == null then "none" else $heal[k] end;
    "\(value("seconds")) \(value("reach_seconds")) \(.verdict)"' "$work/cut$cut.report" |
    awk '{ for (i = 1; i <= 2; i++) if ($i != "none") $i = sprintf("%.2f", $i); print }')
  echo "# cut of $cut s: agreed again $converge s, pods reached again $reach s after the heal (checks: $verdict)"
  [[ $converge == none || $reach == none ]] && { echo "# partition_heal: no recovery after the cut of $cut s"; exit 1; }
  echo "figure heal_converge_s.n10.cut$cut $converge s"
  echo "figure heal_reach_s.n10.cut$cut $reach s"
  worst_converge=$(awk -v a="$worst_converge" -v b="$converge" 'BEGIN { print (b > a ? b : a) }')
  worst_reach=$(awk -v a="$worst_reach" -v b="$reach" 'BEGIN { print (b > a ? b : a) }')
done
echo "figure heal_converge_s.n10 $worst_converge s"
echo "figure heal_reach_s.n10 $worst_reach s"
