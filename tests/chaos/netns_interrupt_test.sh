#!/usr/bin/env bash
# e2e.chaos.interrupted: a namespace run stopped by SIGTERM (and one by SIGINT, as Ctrl-C
# sends it) removes everything it made: it exits 130, says so, and no namespace of its prefix
# and no agent it started is left. The SIGTERM run is given --work, the caller's, which stays;
# the SIGINT run makes its own work directory, which must go too.
#   netns_interrupt_test.sh PATH/TO/shoal-chaos PATH/TO/shoal SCENARIO.json
set -euo pipefail
chaos=${1:?usage: netns_interrupt_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
shoal=${2:?usage: netns_interrupt_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
scenario=${3:?usage: netns_interrupt_test.sh SHOAL-CHAOS SHOAL SCENARIO.json}
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: e2e.chaos.interrupted: needs root (network namespaces)"
  exit 77
fi
top=$(mktemp -d /tmp/shoal-chaos-int-XXXXXX)
run_pid=""
cleanup() {
  # If the test itself fails midway, the run it started is ended (only that PID): SIGTERM
  # first, so that it removes its namespaces and agents; SIGKILL if it is still there in 30 s.
  if [[ -n $run_pid ]] && kill -TERM "$run_pid" 2>/dev/null; then
    for _ in $(seq 1 300); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$run_pid" 2>/dev/null || true
  fi
  rm -rf "$top"
}
trap cleanup EXIT

for signal in TERM INT; do
  work=$top/$signal
  given=(--work "$work")
  [[ $signal == INT ]] && given=(--verbose)  # it then says where its files are
  "$chaos" run "$scenario" --short --shoal "$shoal" ${given[@]+"${given[@]}"} >"$top/$signal.out" 2>&1 &
  run_pid=$!
  if [[ $signal == INT ]]; then  # its own directory, named in "... files in DIR" (at most 30 s)
    for _ in $(seq 1 300); do
      work=$(sed -n 's/.*; files in \(\/tmp\/shoal-chaos-[A-Za-z0-9]*\)$/\1/p' "$top/$signal.out" | head -n 1)
      [[ -n $work ]] && break
      sleep 0.1
    done
    [[ -n $work ]] || { echo "FAIL: the run did not name its work directory"; cat "$top/$signal.out"; exit 1; }
  fi
  # Wait (at most 30 s) until its agents answer: the lab, the agents and the pods all exist.
  for _ in $(seq 1 300); do
    [[ -S $work/h1/shoal.sock ]] && break
    sleep 0.1
  done
  [[ -S $work/h1/shoal.sock ]] || { echo "FAIL: the run never started its agents"; cat "$top/$signal.out"; exit 1; }
  # Then until the first agents' sockets are there too (at most 30 s): agents are running.
  for _ in $(seq 1 300); do
    [[ -S $work/h2/shoal.sock && -S $work/h4/shoal.sock ]] && break
    sleep 0.1
  done
  agents=$(pgrep -f -- "--data-dir $work/" | tr '\n' ' ' || true)
  [[ -n $agents ]] || { echo "FAIL: no agents found running under $work"; exit 1; }
  namespaces=$(ip netns list | grep -c "^sc$run_pid-" || true)
  kill -"$signal" "$run_pid"
  status=0
  wait "$run_pid" || status=$?
  run_pid=""
  [[ $status -eq 130 ]] || { echo "FAIL: SIG$signal: exit $status, not 130"; cat "$top/$signal.out"; exit 1; }
  left=$(ip netns list | grep "^sc[0-9]*-" || true)
  [[ -z $left ]] || { echo "FAIL: SIG$signal left namespaces: $left"; exit 1; }
  for pid in $agents; do
    if kill -0 "$pid" 2>/dev/null; then echo "FAIL: SIG$signal left agent $pid running"; exit 1; fi
  done
  if [[ $signal == INT && -e $work ]]; then echo "FAIL: SIGINT left its own work directory $work"; exit 1; fi
  if [[ $signal == TERM && ! -d $work ]]; then echo "FAIL: SIGTERM removed the caller's --work $work"; exit 1; fi
  grep -q "interrupted" "$top/$signal.out" || { echo "FAIL: SIG$signal: the run did not say it was interrupted"; cat "$top/$signal.out"; exit 1; }
  echo "ok: SIG$signal: exit 130; its $namespaces namespaces and agents $(echo $agents | tr ' ' ',') all gone"
done
