#!/usr/bin/env bash
# bench/gossip_vs_serf.sh [N...]: gossip membership of shoal and serf, side by side, on the same
# network namespaces (tests/e2e/netns.sh), one agent per host, N = 10 and 30 unless given.
#
# Figures (other lines start with '#'), for every implementation IMPL and size N:
#   join_converge.IMPL.nN      s    seed up, then N-1 agents start at one instant (a start gate);
#                                   time from then until every agent lists N members alive;
#                                   the median over the run's clean starts (1 + one per loss
#                                   level), since a missed join broadcast costs one start a
#                                   push-pull period (serf: 30 s) now and then
#   detect_all.IMPL.nN         s    SIGKILL host N's agent; time until every survivor lists it
#                                   as failed; the median of DETECT_SAMPLES kills (hosts N, N-1, ...)
#   rss_kb.IMPL.nN             KiB  mean VmRSS of the agent processes, after the quiet window
#   anon_kb.IMPL.nN            KiB  mean RssAnon of the same: heap, stacks and written data,
#                                   what each agent costs on its own (VmRSS also counts the
#                                   pages of shared libraries, which every process shares)
#   gossip_bytes_s.IMPL.nN     B/s  bytes each agent sends on its underlay per second over a
#                                   quiet window (veth tx counters: whole Ethernet frames)
#   false_dead.lossP.IMPL.nN   #    fresh cluster, P % random loss on every host for
#                                   LOSS_WINDOW_S s, LOSS_REPEATS times (each followed by a
#                                   drain without loss): members that any agent declared
#                                   failed, per window (the mean; one window's count is
#                                   too small a number to compare)
#   X.ratio.nN                 x    shoal / serf, when both ran
#
# How times are taken. "Every agent lists ..." is checked by polling each agent's members
# command (the definition), but a poll of 30 Go CLIs takes seconds on two cores, so the figure
# is the moment each agent itself logged the last event it needed (agent output is stamped with
# the wall clock as it is written, see netns_spawn --stamp); the polled bound is printed as a
# comment. False deaths are counted from the same logged events, not from polls, so a death
# refuted within a second still counts.
#
# Loss: nft drops P % of the IPv4 packets each host sends on its underlay (UDP gossip and TCP
# push-pull and stream probes alike: real loss does not pick a protocol), so every packet between
# two hosts is lost with probability P. LOSS_PROTO=udp drops UDP only (figure name then says
# udplossP). Loopback (the agents' control interfaces) is never touched.
#
# Environment: IMPLS ("shoal serf"), SERF_ENCRYPT (1: -encrypt with a fresh key, as shoal always
# encrypts; 0: plaintext), LOSSES ("10 25"), LOSS_WINDOW_S (30), LOSS_REPEATS (1), QUIET_WINDOW_S (20),
# DETECT_SAMPLES (3 kills, hosts N, N-1, ...; at most N - 2),
# LOSS_PROTO (all), KEEP_LOGS (0; 1 keeps the agents' logs and prints where).
# The defaults keep the run under 10 minutes on two cores. GOSSIP_VS_SERF_LONG=1 is the precise
# run (~40 minutes): loss windows of 60 s, 3 of them per level, a 30 s quiet window, 5 kills;
# any variable set explicitly still wins.
#
# Adding an implementation: write the adapter functions IMPL_available, IMPL_prepare,
# IMPL_start, IMPL_ready, IMPL_alive_count, IMPL_status and IMPL_events (contract below, serf's
# as the example) and add IMPL to IMPLS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/gossip_vs_serf.XXXXXX")
# Set before sourcing the harness, which keeps this trap and runs it after its own cleanup.
remove_logs() {
  if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "# logs kept in $run_dir"; else rm -rf "$run_dir"; fi
}
trap remove_logs EXIT
# shellcheck source=tests/e2e/netns.sh
source "$root/tests/e2e/netns.sh"
require_root gossip_vs_serf

read -ra impls <<<"${IMPLS:-shoal serf}"
read -ra losses <<<"${LOSSES:-10 25}"
sizes=("$@")
((${#sizes[@]})) || sizes=(10 30)
if [[ ${GOSSIP_VS_SERF_LONG:-0} == 1 ]]; then
  loss_window_s=${LOSS_WINDOW_S:-60} loss_repeats=${LOSS_REPEATS:-3}
  detect_samples=${DETECT_SAMPLES:-5} quiet_window_s=${QUIET_WINDOW_S:-30}
else
  loss_window_s=${LOSS_WINDOW_S:-30} loss_repeats=${LOSS_REPEATS:-1}
  detect_samples=${DETECT_SAMPLES:-3} quiet_window_s=${QUIET_WINDOW_S:-20}
fi
for var in loss_window_s loss_repeats detect_samples quiet_window_s; do
  if [[ ! ${!var} =~ ^[1-9][0-9]*$ ]]; then
    echo "gossip_vs_serf: ${var^^} must be a positive whole number, not '${!var}'" >&2
    exit 2
  fi
done
for n in "${sizes[@]}"; do
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 5 || n > 240 || n - detect_samples < 2)); then
    echo "gossip_vs_serf: size '$n' must be 5..240 and leave two hosts after" \
      "$detect_samples kills" >&2
    exit 2
  fi
done
loss_proto=${LOSS_PROTO:-all}
settle_s=5         # after convergence, let join traffic (push-pull with the seed) die down
drain_s=10         # after loss ends, suspicions started during the window still conclude
converge_timeout_s=90
detect_timeout_s=90
gossip_port=7946

# ---- adapter contract ------------------------------------------------------------------------
# IMPL_available           0 when IMPL can run here; else prints "# IMPL: why not" and returns 1
# IMPL_prepare             once per run, before any agent starts (keys, versions to print)
# IMPL_start [--gate] I LOG  starts the agent of host I, named h<I>, bound to
#                          $(netns_addr I):7946, joining through host 1 unless I is 1, through
#                          `netns_spawn [--gate] --stamp I LOG ...` so that the spawned PID is
#                          the agent itself and its log lines carry wall-clock stamps
# IMPL_ready I             true once agent I answers its control interface
# IMPL_alive_count I       prints how many members agent I lists as alive (itself included)
# IMPL_status I NAME       prints how agent I lists NAME: alive, suspect, failed, left, or nothing
# IMPL_events LOG          prints "TIME_US KIND NAME" for every member event in an agent's log,
#                          KIND one of join, failed, left; TIME_US from the line's stamp
# IMPL_suspicions I LOG    optional: prints how many of host I's own probes failed and raised a
#                          suspicion (a comment, to compare the failure detectors under loss)

# ---- serf adapter ----------------------------------------------------------------------------
serf_key=""
serf_rpc=127.0.0.1:7373 # per host namespace: every host has its own loopback

serf_available() {
  need_packages serf || {
    echo "# serf: not installed and could not be installed"
    return 1
  }
}

serf_prepare() {
  local how="plaintext"
  if [[ ${SERF_ENCRYPT:-1} == 1 ]]; then
    serf_key=$(serf keygen)
    how="encrypted (-encrypt, AES-GCM, one key)"
  fi
  echo "# serf: Debian $(dpkg-query -W -f='${Version}' serf), -profile=lan, $how," \
    "joins with -retry-join=$(netns_addr 1):$gossip_port"
}

serf_start() {
  local gate=()
  [[ $1 == --gate ]] && gate=(--gate) && shift
  local i=$1 log=$2
  local args=(agent "-node=h$i" "-bind=$(netns_addr "$i"):$gossip_port" "-rpc-addr=$serf_rpc"
    -profile=lan -log-level=info)
  [[ -n $serf_key ]] && args+=("-encrypt=$serf_key")
  ((i == 1)) || args+=("-retry-join=$(netns_addr 1):$gossip_port" -retry-interval=1s)
  netns_spawn ${gate[@]+"${gate[@]}"} --stamp "$i" "$log" serf "${args[@]}"
}

serf_ready() { netns_exec "$1" serf members "-rpc-addr=$serf_rpc" >/dev/null 2>&1; }

serf_alive_count() {
  netns_exec "$1" serf members "-rpc-addr=$serf_rpc" -status=alive 2>/dev/null | wc -l
}

serf_status() {
  netns_exec "$1" serf members "-rpc-addr=$serf_rpc" 2>/dev/null |
    awk -v name="$2" '$1 == name { print $3 }'
}

# serf logs every member event as it applies it: "serf: EventMemberJoin: h3 192.0.2.13".
serf_events() {
  awk '/ serf: EventMember(Join|Failed|Leave): / {
         for (f = 1; f < NF; f++) if ($f ~ /^EventMember/) break
         kind = $f == "EventMemberJoin:" ? "join" : $f == "EventMemberFailed:" ? "failed" : "left"
         stamp = $1; sub(/\./, "", stamp)
         print stamp, kind, $(f + 1)
       }' "$1"
}

# memberlist logs each of its probes that ends in a suspicion: "memberlist: Suspect h4 has failed".
serf_suspicions() { grep -c "memberlist: Suspect .* has failed" "$2" || true; }

# ---- shoal adapter ---------------------------------------------------------------------------
shoal_bin=""
shoal_key=""

shoal_available() {
  shoal_bin=$(cd "$(dirname "$0")/.." && pwd)/build/release/cli/shoal
  [[ -x $shoal_bin ]] || {
    echo "# shoal: $shoal_bin is not built (scripts/bench gossip_vs_serf builds it)"
    return 1
  }
}

shoal_prepare() {
  shoal_key="$run_dir/shoal.key"
  (umask 077 && "$shoal_bin" keygen >"$shoal_key")
  echo "# shoal: $("$shoal_bin" version), --profile lan, encrypted (XChaCha20-Poly1305, one key)," \
    "joins through $(netns_addr 1):$gossip_port"
}

shoal_dir() { echo "$run_dir/shoal-state/$phase_dir_tag/h$1"; }

shoal_start() {
  local gate=()
  [[ $1 == --gate ]] && gate=(--gate) && shift
  local i=$1 log=$2 dir
  phase_dir_tag=$(basename "$phase_dir")
  dir=$(shoal_dir "$i")
  mkdir -p "$dir"
  local args=(agent --name "h$i" --bind "$(netns_addr "$i"):$gossip_port" --profile lan
    --network 198.18.0.0/16 --key-file "$shoal_key" --data-dir "$dir"
    --subnet-file "$dir/subnet.env" --control-socket "$dir/shoal.sock"
    --metrics-addr "$(netns_addr "$i"):$shoal_metrics_port")
  ((i == 1)) || args+=(--seed "$(netns_addr 1):$gossip_port")
  netns_spawn ${gate[@]+"${gate[@]}"} --stamp "$i" "$log" "$shoal_bin" "${args[@]}"
}

shoal_members() {  # the CLI's JSON answer: its table is for people
  "$shoal_bin" members --json --control-socket "$(shoal_dir "$1")/shoal.sock" 2>/dev/null
}
shoal_ready() { shoal_members "$1" >/dev/null; }
shoal_alive_count() { shoal_members "$1" | jq '[.members[] | select(.state == "alive")] | length'; }
shoal_status() {  # in serf's words: "failed" for dead
  shoal_members "$1" |
    jq -r --arg n "$2" '.members[] | select(.name == $n) | if .state == "dead" then "failed" else .state end'
}

# The agent logs every member event: "... info member h3 (1a2b3c4d, 192.0.2.13:7946): joined",
# "... warning member h3 (...) is dead", "... info member h3 (...): left". It never logs
# itself joining (serf does), so its start line, "shoal agent h3 (...) listening on", counts.
shoal_events() {
  awk '/ shoal agent h[0-9]+ \(.*\) listening on / {
         for (f = 1; f < NF; f++) if ($f == "agent") break
         stamp = $1; sub(/\./, "", stamp)
         print stamp, "join", $(f + 1)
         next
       }
       / member h[0-9]+ \(/ && (/: joined$/ || / is dead$/ || /: left$/) {
         for (f = 1; f < NF; f++) if ($f == "member") break
         kind = /: joined$/ ? "join" : / is dead$/ ? "failed" : "left"
         stamp = $1; sub(/\./, "", stamp)
         print stamp, kind, $(f + 1)
       }' "$1"
}

# The same count is shoal_probes_failed_total. (The agent's "is suspect" log lines are not: every
# agent logs each suspicion it hears of, not only its own.)
shoal_metrics_port=9100
shoal_suspicions() { netns_metric "$1" "$shoal_metrics_port" shoal_probes_failed_total; }

# ---- measurement helpers ---------------------------------------------------------------------
impl=""      # the implementation being measured
phase_dir="" # where the current cluster's logs go
hosts=""     # the hosts latest_of_hosts looks at
join_samples=() # start_cluster's join times (us) for the current implementation and size
t_start_us=0 # set by start_cluster: when the start gate opened

# call OP ARGS...: the current implementation's adapter function OP.
call() {
  local f="${impl}_$1"
  shift
  "$f" "$@"
}

log_of() { echo "$phase_dir/h$1.log"; }

declare -A figures=()
figure() {
  printf 'figure %s %s %s\n' "$1" "$2" "$3"
  figures[$1]=$2
}

# pending: the hosts whose agent has not yet shown what a wait asks for.
pending=()
hosts_upto() { seq 1 "$1"; }

# all_pending_pass PREDICATE ARGS...: runs PREDICATE I ARGS for each pending host I, keeps the
# ones that fail; true when none is left. Polls each agent once per round, sequentially, so the
# polls themselves stay light on the CPU the agents share.
all_pending_pass() {
  local still=() i
  for i in "${pending[@]}"; do
    "$@" "$i" || still+=("$i")
  done
  pending=(${still[@]+"${still[@]}"})
  ((${#pending[@]} == 0))
}

lists_n_alive() { # N I
  local count
  count=$(call alive_count "$2" 2>/dev/null) || count=0
  ((count >= $1))
}

lists_failed() { # NAME I
  [[ $(call status "$2" "$1" 2>/dev/null) == failed ]]
}

# converged_at I N: when (TIME_US) agent I's log first had N members alive.
converged_at() {
  call events "$(log_of "$1")" | awk -v n="$2" '
    $2 == "join" && !($3 in alive) { alive[$3] = 1; count++ }
    ($2 == "failed" || $2 == "left") && ($3 in alive) { delete alive[$3]; count-- }
    count >= n { print $1; exit }'
}

# failed_at I NAME SINCE_US: when agent I first logged NAME failed at or after SINCE_US.
failed_at() {
  call events "$(log_of "$1")" |
    awk -v name="$2" -v since="$3" '$2 == "failed" && $3 == name && $1 >= since { print $1; exit }'
}

# latest_of_hosts FN ARGS... : the latest time FN I ARGS prints over the hosts in "$hosts";
# nothing when any host has none.
latest_of_hosts() {
  local fn=$1 i t latest=0
  shift
  for i in $hosts; do
    t=$("$fn" "$i" "$@")
    [[ -n $t ]] || return 0
    ((t > latest)) && latest=$t
  done
  echo "$latest"
}

# start_cluster N PHASE: seed first, then the N-1 others through the start gate. Sets t_start_us
# (the gate's opening) and waits until every agent lists N alive. Prints the join time.
start_cluster() {
  local n=$1 i t_polled t_logged join_us
  phase_dir="$run_dir/$impl.n$n.$2"
  mkdir -p "$phase_dir"
  call start 1 "$(log_of 1)"
  if ! wait_until 15 call ready 1; then
    echo "# $impl: the seed (host 1) did not answer within 15 s; log: $(log_of 1)" >&2
    tail -n 5 "$(log_of 1)" >&2
    return 1
  fi
  netns_gate_close
  for ((i = 2; i <= n; i++)); do
    call start --gate "$i" "$(log_of "$i")"
  done
  netns_gate_open 30
  t_start_us=$NETNS_GATE_OPENED_US
  mapfile -t pending < <(hosts_upto "$n")
  if ! WAIT_INTERVAL=0.5 wait_until "$converge_timeout_s" all_pending_pass lists_n_alive "$n"; then
    echo "# $impl n=$n: not converged after $converge_timeout_s s; hosts left: ${pending[*]}"
    return 1
  fi
  t_polled=$(($(now_us) - t_start_us))
  hosts=$(hosts_upto "$n")
  t_logged=$(latest_of_hosts converged_at "$n")
  join_us=$t_polled
  [[ -n $t_logged ]] && join_us=$((t_logged - t_start_us))
  join_samples+=("$join_us")
  echo "# $impl n=$n $2: all list $n alive: $(us_to_secs "$join_us") s from the logs," \
    "polled bound $(us_to_secs "$t_polled") s"
}

stop_cluster() {
  local n=$1 i
  for ((i = 1; i <= n; i++)); do netns_kill "$i" KILL; done
  for ((i = 1; i <= n; i++)); do wait_until 10 not_alive "$i"; done
}
not_alive() { ! netns_alive "$1"; }

sum_tx_bytes() {
  local n=$1 i sum=0
  for ((i = 1; i <= n; i++)); do sum=$((sum + $(netns_bytes "$i" tx))); done
  echo "$sum"
}

# ---- measurements ----------------------------------------------------------------------------

# measure_base N: gossip_bytes_s, rss_kb, detect_all on one cluster.
measure_base() {
  local n=$1 i b0 b1 rss_sum=0 rss anon_sum=0 anon pid victim t_kill t_polled t_logged survivors detect_us
  start_cluster "$n" base || return 1

  sleep "$settle_s"
  b0=$(sum_tx_bytes "$n")
  sleep "$quiet_window_s"
  b1=$(sum_tx_bytes "$n")
  figure "gossip_bytes_s.$impl.n$n" $(((b1 - b0) / n / quiet_window_s)) B/s

  for ((i = 1; i <= n; i++)); do
    pid=$(netns_pids "$i")
    read -r rss anon < <(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { print r, a }' \
      "/proc/$pid/status")
    rss_sum=$((rss_sum + rss))
    anon_sum=$((anon_sum + anon))
  done
  figure "rss_kb.$impl.n$n" $((rss_sum / n)) KiB
  figure "anon_kb.$impl.n$n" $((anon_sum / n)) KiB

  # DETECT_SAMPLES victims, one after another (hosts N, N-1, ...): when the first probe of a victim
  # comes is luck (each survivor probes one member a second, in its own shuffled order), so
  # one kill is a noisy sample. The figure is the median.
  local samples=() k
  for ((k = 0; k < detect_samples; k++)); do
    victim=$((n - k))
    survivors=$(hosts_upto $((victim - 1)))
    t_kill=$(now_us)
    netns_kill "$victim" KILL
    mapfile -t pending <<<"$survivors"
    if ! WAIT_INTERVAL=0.5 wait_until "$detect_timeout_s" \
      all_pending_pass lists_failed "h$victim"; then
      echo "# $impl n=$n: h$victim not failed everywhere after $detect_timeout_s s: ${pending[*]}"
      return 1
    fi
    t_polled=$(($(now_us) - t_kill))
    hosts=$survivors
    t_logged=$(latest_of_hosts failed_at "h$victim" "$t_kill")
    detect_us=$t_polled
    [[ -n $t_logged ]] && detect_us=$((t_logged - t_kill))
    echo "# $impl n=$n: h$victim failed everywhere: $(us_to_secs "$detect_us") s from the logs," \
      "polled bound $(us_to_secs "$t_polled") s"
    samples+=("$detect_us")
  done
  figure "detect_all.$impl.n$n" "$(us_to_secs "$(median "${samples[@]}")")" s
}

# measure_false_dead N PERCENT: a fresh cluster under PERCENT % loss for loss_window_s, then a
# drain, loss_repeats times.
measure_false_dead() {
  local n=$1 pct=$2 i r t0 t1 drops names label=loss$2 suspicions="?" deaths=0 counts=()
  [[ $loss_proto == all ]] || label="${loss_proto}loss$pct"
  start_cluster "$n" "$label" || return 1
  sleep "$settle_s"
  for ((r = 1; r <= loss_repeats; r++)); do
    drops=0
    t0=$(now_us)
    for ((i = 1; i <= n; i++)); do netns_loss --dir out --proto "$loss_proto" "$i" "$pct"; done
    sleep "$loss_window_s"
    for ((i = 1; i <= n; i++)); do
      drops=$((drops + $(netns_loss_drops "$i")))
      netns_loss_clear "$i"
    done
    t1=$(now_us)
    sleep "$drain_s"
    # A member declared failed by several agents in one window counts once.
    names=$(for ((i = 1; i <= n; i++)); do
      call events "$(log_of "$i")" | awk -v t0="$t0" '$2 == "failed" && $1 >= t0 { print $3 }'
    done | sort -u | tr '\n' ' ')
    echo "# $impl n=$n $label window $r/$loss_repeats: $(us_to_secs $((t1 - t0))) s of loss," \
      "$drops packets dropped; declared failed: ${names:-none}"
    counts+=("$(wc -w <<<"$names")")
    deaths=$((deaths + ${counts[-1]}))
  done
  if declare -F "${impl}_suspicions" >/dev/null; then
    suspicions=$(for ((i = 1; i <= n; i++)); do call suspicions "$i" "$(log_of "$i")"; done |
      awk '{ s += $1 } END { print s + 0 }')
  fi
  echo "# $impl n=$n $label: false deaths per window ${counts[*]}, $deaths in all;" \
    "$suspicions probes failed and raised a suspicion (all agents, all windows)"
  figure "false_dead.$label.$impl.n$n" "$(awk -v d="$deaths" -v r="$loss_repeats" \
    'BEGIN { printf "%.2f", d / r }')" count
  stop_cluster "$n"
}

# median NUMBER...: the middle one (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# report_join N: join_converge, the median of the clean starts' join times.
report_join() {
  local n=$1
  ((${#join_samples[@]})) || return 0
  echo "# $impl n=$n: join times of ${#join_samples[@]} clean starts:" \
    "$(printf '%s\n' "${join_samples[@]}" | sort -n | while read -r t; do us_to_secs "$t"; done |
      tr '\n' ' ')s"
  figure "join_converge.$impl.n$n" "$(us_to_secs "$(median "${join_samples[@]}")")" s
}

# bench_impl N: every figure of the current implementation at size N.
bench_impl() {
  local n=$1 pct
  join_samples=()
  if measure_base "$n"; then :; else echo "# $impl n=$n: base measurements incomplete"; fi
  stop_cluster "$n"
  for pct in "${losses[@]}"; do
    measure_false_dead "$n" "$pct" || {
      echo "# $impl n=$n: loss $pct % run incomplete"
      stop_cluster "$n"
    }
  done
  report_join "$n"
}

print_ratios() {
  local name other
  for name in $(printf '%s\n' "${!figures[@]}" | sort); do
    [[ $name == *.shoal.* ]] || continue
    other=${name/.shoal./.serf.}
    [[ -n ${figures[$other]:-} ]] || continue
    if awk -v d="${figures[$other]}" 'BEGIN { exit !(d > 0) }'; then
      figure "${name/.shoal./.ratio.}" "$(awk -v a="${figures[$name]}" -v b="${figures[$other]}" \
        'BEGIN { printf "%.2f", a / b }')" x
    else
      echo "# ${name/.shoal./.ratio.}: serf's figure is 0, no ratio"
    fi
  done
}

# ---- main ------------------------------------------------------------------------------------
bench_start_us=$(now_us)
echo "# gossip_vs_serf: sizes ${sizes[*]}, implementations ${impls[*]}; loss ${losses[*]} %" \
  "($loss_proto, every host's egress) for $loss_window_s s, $loss_repeats times;" \
  "quiet window $quiet_window_s s"
echo "# machine: $(nproc) cores, $(uname -r)"
ready_impls=()
for impl in "${impls[@]}"; do
  if call available; then
    call prepare
    ready_impls+=("$impl")
  fi
done
for n in "${sizes[@]}"; do
  ((${#ready_impls[@]})) || break
  size_start_us=$(now_us)
  netns_setup "gv$$" "$n"
  for impl in "${ready_impls[@]}"; do
    bench_impl "$n"
  done
  netns_cleanup
  echo "# n=$n took $(us_to_secs $(($(now_us) - size_start_us))) s"
done
print_ratios
echo "# total wall time $(us_to_secs $(($(now_us) - bench_start_us))) s"
