# shellcheck shell=bash
# bench/udp_tunnel.sh's hook for shoal's own udp tunnel (see the top of that script): two real
# agents, one per namespace, Backend udp, Network UT_OVERLAY cut into /28s. Each agent's TUN
# device shoal0 holds its subnet's .0, so iperf3 runs host to host through the tunnel exactly
# as it does through the peers' tunnels (no pods, no bridge in the path).

# _shoal_ready DIR: the agent keeping its files in DIR has written subnet.env.
_shoal_ready() { [[ -s $1/subnet.env ]]; }
_shoal_tun_addr() {  # _shoal_tun_addr I: the address on host I's shoal0 (its subnet's .0)
  netns_exec "$1" ip -4 -o addr show dev shoal0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
}
_shoal_has_tun_addr() { [[ -n $(_shoal_tun_addr "$1") ]]; }
_shoal_route() {  # _shoal_route I ADDR: host I routes ADDR into shoal0 and holds its own .0
  netns_exec "$1" ip -4 route get "$2" 2>/dev/null | grep -q "dev shoal0"
}

shoal_tunnel_up() {
  local mode=$1 i encrypt=false dir b_addr
  [[ $mode == enc ]] && encrypt=true
  SHOAL_PIDS=()
  for i in 1 2; do
    dir=$UT_WORK/h$i
    mkdir -p "$dir"
    netns_spawn "$i" "$dir/agent.log" "$SHOAL_BIN" agent --name "ut$i" \
      --network "$UT_OVERLAY" --subnet-len 28 \
      --bind "$(netns_addr "$i"):7946" --seed "$(netns_addr 1):7946" \
      --data-dir "$dir" --subnet-file "$dir/subnet.env" --control-socket "$dir/shoal.sock" \
      --backend udp --encrypt "$encrypt" --ip-masq false
    SHOAL_PIDS+=("$NETNS_LAST_PID")
  done
  for i in 1 2; do
    wait_until 30 _shoal_ready "$UT_WORK/h$i" || { echo "agent $i wrote no subnet.env in 30 s" >&2; return 1; }
  done
  for i in 1 2; do
    wait_until 15 _shoal_has_tun_addr "$i" || { echo "agent $i's shoal0 has no address in 15 s" >&2; return 1; }
  done
  b_addr=$(_shoal_tun_addr 2)
  wait_until 15 _shoal_route 1 "$b_addr" || { echo "A has no route to $b_addr through shoal0" >&2; return 1; }
  grep -h "udp tunnel:" "$UT_WORK"/h1/agent.log | sed 's/^/# /' >&2 || true
  echo "$b_addr"
}

shoal_tunnel_down() {
  local i
  for i in 1 2; do
    grep -h "udp tunnel:" "$UT_WORK/h$i/agent.log" 2>/dev/null | head -n 1
    timeout 10 "$SHOAL_BIN" status --control-socket "$UT_WORK/h$i/shoal.sock" 2>/dev/null |
      grep -E "tunnel:|offloads:|dropped:" | sed "s/^/# h$i /"
  done
  netns_kill 1 TERM
  netns_kill 2 TERM
  # The TUN devices are persistent (they outlive an agent on purpose); the namespaces go at exit.
}
