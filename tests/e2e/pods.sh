# shellcheck shell=bash
# tests/e2e/pods.sh — "pods" for the netns harness: network namespaces attached to a host with
# Debian's real CNI plugins (bridge + host-local, package containernetworking-plugins), set up
# from a subnet.env exactly as flannel's CNI plugin sets them up.
#
# Source it after netns.sh, then:
#   pod_add 1 1 "$work/h1/subnet.env" "$work/cni"   # pod namespace <prefix>-h1p1 on host 1
#   pod_exec 1 1 ping -c1 "$(pod_addr 2 1)"
#   pod_del 1 1                                      # optional: netns_cleanup removes pods too
#
# What flannel's CNI plugin (flannel_linux.go) hands its delegate, and so what pod_add gives the
# bridge plugin: bridge "cni0", isGateway true, ipMasq = !FLANNEL_IPMASQ, mtu = FLANNEL_MTU,
# hairpinMode and isDefaultGateway true (kube-flannel's conflist), ipam host-local with ranges
# [[{subnet: FLANNEL_SUBNET's network}]] and routes [{dst: FLANNEL_NETWORK}]; the network is
# named "cbr0" like flannel's. The default route matters: with FLANNEL_IPMASQ=false the bridge
# plugin masquerades everything a pod sends outside its own subnet, other hosts' pods included,
# so replies come back to the host's address, which only a default route reaches.
# PODS_DEFAULT_GATEWAY=false leaves it out.
#
# The plugin binary runs inside the host's namespace (so cni0, the host veth ends and the bridge
# plugin's masquerade rules live there and go with it), with CNI_COMMAND=ADD,
# CNI_NETNS=/var/run/netns/<pod namespace>, CNI_IFNAME=eth0, CNI_PATH=/usr/lib/cni and the
# configuration on stdin. host-local's state goes to DATADIR/hI/ipam ("dataDir"), never to
# /var/lib/cni; each pod's configuration and CNI result are kept in DATADIR/hI for reading
# after a failure.
#
# Pod namespaces are made with netns_add_extra, so they have loopback up and IPv6 off like the
# hosts, and netns_cleanup deletes them (killing what still runs in them) on every exit path.

# PODS_SHOAL_CNI=PATH/TO/shoal-cni: attach pods through shoal's own plugin instead, which
# builds the same bridge configuration from subnet.env itself (cni/netconf.h) and finds
# bridge and host-local in PODS_CNI_PATH.
PODS_CNI_PATH=${PODS_CNI_PATH:-/usr/lib/cni}
PODS_SHOAL_CNI=${PODS_SHOAL_CNI:-}
PODS_NETWORK_NAME=cbr0
declare -gA _pods_datadir=() # "I J" -> DATADIR given to pod_add (pod_del needs it)

# pod_name I J: the namespace of pod J on host I.
pod_name() { echo "${NETNS_PREFIX}-h$1p$2"; }

# pod_exec I J CMD...: runs CMD in pod J of host I, in the foreground.
pod_exec() {
  local ns
  ns=$(pod_name "$1" "$2")
  shift 2
  if [[ ! -e /run/netns/$ns ]]; then
    echo "pods: no pod $ns (pod_add first)" >&2
    return 1
  fi
  ip netns exec "$ns" "$@"
}

# pod_addr I J: the pod's IPv4 address on eth0, without the prefix length.
pod_addr() {
  local a
  a=$(pod_exec "$1" "$2" ip -4 -o addr show dev eth0 | awk '{ print $4; exit }') || return 1
  [[ -n $a ]] || {
    echo "pods: pod $(pod_name "$1" "$2") has no IPv4 address on eth0" >&2
    return 1
  }
  echo "${a%/*}"
}

# _pods_env_value FILE KEY: the value of KEY=VALUE in a subnet.env file.
_pods_env_value() {
  local key value
  while IFS='=' read -r key value; do
    if [[ $key == "$2" ]]; then
      echo "$value"
      return 0
    fi
  done <"$1"
  return 1
}

# _pods_ipv4_ok ADDR: a dotted IPv4 address.
_pods_ipv4_ok() {
  local IFS=. o
  # shellcheck disable=SC2206 # splitting on the dots is the point
  local -a octets=($1)
  [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
  for o in "${octets[@]}"; do ((10#$o <= 255)) || return 1; done
}

# pods_network CIDR: the network of an address with a prefix length: 198.18.5.1/24 -> 198.18.5.0/24.
pods_network() {
  local addr=${1%/*} len=${1#*/} a b c d n mask
  if [[ $1 != */* ]] || ! _pods_ipv4_ok "$addr" || [[ ! $len =~ ^[0-9]+$ ]] || ((len > 32)); then
    echo "pods: '$1' is not an IPv4 address with a prefix length" >&2
    return 1
  fi
  IFS=. read -r a b c d <<<"$addr"
  n=$(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  n=$((n & mask))
  echo "$((n >> 24 & 255)).$((n >> 16 & 255)).$((n >> 8 & 255)).$((n & 255))/$len"
}

# _pods_json_string TEXT: TEXT as a JSON string (quotes and backslashes escaped).
_pods_json_string() {
  local t=${1//\\/\\\\}
  t=${t//\"/\\\"}
  printf '"%s"' "$t"
}

# pod_cni_conf SUBNET_ENV IPAM_DATADIR: prints the bridge plugin's configuration that flannel's
# CNI plugin would hand it for this subnet.env (see the top).
pod_cni_conf() {
  local env=$1 datadir=$2 network subnet mtu ipmasq masq gw=true
  if [[ ! -r $env ]]; then
    echo "pods: cannot read subnet.env '$env'" >&2
    return 1
  fi
  if ! network=$(_pods_env_value "$env" FLANNEL_NETWORK) ||
    ! subnet=$(_pods_env_value "$env" FLANNEL_SUBNET) ||
    ! mtu=$(_pods_env_value "$env" FLANNEL_MTU) ||
    ! ipmasq=$(_pods_env_value "$env" FLANNEL_IPMASQ); then
    echo "pods: $env lacks one of FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ" >&2
    return 1
  fi
  network=$(pods_network "$network") && subnet=$(pods_network "$subnet") || return 1
  if [[ ! $mtu =~ ^[0-9]+$ ]]; then
    echo "pods: FLANNEL_MTU '$mtu' in $env is not a number" >&2
    return 1
  fi
  case $ipmasq in
    true) masq=false ;;
    false) masq=true ;;
    *) echo "pods: FLANNEL_IPMASQ '$ipmasq' in $env is neither true nor false" >&2; return 1 ;;
  esac
  [[ ${PODS_DEFAULT_GATEWAY:-true} == false ]] && gw=false
  cat <<EOF
{
  "cniVersion": "0.3.1",
  "name": "$PODS_NETWORK_NAME",
  "type": "bridge",
  "bridge": "cni0",
  "isGateway": true,
  "isDefaultGateway": $gw,
  "ipMasq": $masq,
  "mtu": $mtu,
  "hairpinMode": true,
  "ipam": {
    "type": "host-local",
    "dataDir": $(_pods_json_string "$datadir"),
    "ranges": [[{"subnet": "$subnet"}]],
    "routes": [{"dst": "$network"}]
  }
}
EOF
}

# pod_shoal_cni_conf SUBNET_ENV DATADIR: shoal-cni's configuration for the same pods.
pod_shoal_cni_conf() {
  local gw=true
  [[ ${PODS_DEFAULT_GATEWAY:-true} == false ]] && gw=false
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$PODS_NETWORK_NAME",
  "type": "shoal-cni",
  "subnetFile": $(_pods_json_string "$1"),
  "dataDir": $(_pods_json_string "$2/shoal-cni"),
  "waitSeconds": 10,
  "delegate": {"isDefaultGateway": $gw, "ipam": {"dataDir": $(_pods_json_string "$2/ipam")}}
}
EOF
}

# _pods_cni COMMAND I J CONF RESULT: runs the plugin (bridge, or shoal-cni) in host I for pod J.
_pods_cni() {
  local cmd=$1 i=$2 j=$3 conf=$4 result=$5 ns plugin=$PODS_CNI_PATH/bridge
  ns=$(pod_name "$i" "$j")
  [[ -n $PODS_SHOAL_CNI ]] && plugin=$PODS_SHOAL_CNI
  netns_exec "$i" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$ns" CNI_NETNS="/var/run/netns/$ns" \
    CNI_IFNAME=eth0 CNI_PATH="$PODS_CNI_PATH" "$plugin" <"$conf" >"$result"
}

# pod_add I J SUBNET_ENV DATADIR: creates pod J on host I (namespace "<prefix>-hIpJ") and
# attaches it to host I's cni0 through the CNI plugins, configured from SUBNET_ENV. DATADIR is a
# directory of the test's own (host-local keeps its state in DATADIR/hI/ipam). Prints nothing;
# on failure says why on stderr (the plugin's error included) and returns 1.
pod_add() {
  local i=$1 j=$2 env=$3 datadir=$4 ns dir
  if [[ $# -ne 4 || ! $j =~ ^[0-9]+$ ]]; then
    echo "pods: usage: pod_add HOST POD SUBNET_ENV DATADIR" >&2
    return 1
  fi
  _netns_check_host "$i" || return 1
  need_packages containernetworking-plugins iptables || return 1
  ns=$(pod_name "$i" "$j")
  dir=$datadir/h$i
  mkdir -p "$dir/ipam" || return 1
  if [[ -n $PODS_SHOAL_CNI ]]; then
    pod_shoal_cni_conf "$env" "$dir" >"$dir/p$j.conf"
  else
    pod_cni_conf "$env" "$dir/ipam" >"$dir/p$j.conf" || return 1
  fi
  netns_add_extra "h${i}p$j" || return 1
  _pods_datadir["$i $j"]=$datadir
  if ! _pods_cni ADD "$i" "$j" "$dir/p$j.conf" "$dir/p$j.result"; then
    echo "pods: CNI ADD for $ns failed:" >&2
    cat "$dir/p$j.result" >&2
    return 1
  fi
  pod_addr "$i" "$j" >/dev/null
}

# pod_del I J: detaches pod J of host I (CNI DEL, which releases its address) and deletes its
# namespace. Not needed before netns_cleanup, which deletes pods with everything else.
pod_del() {
  local i=$1 j=$2 ns dir status=0
  ns=$(pod_name "$i" "$j")
  dir=${_pods_datadir["$i $j"]:-}/h$i
  if [[ -z ${_pods_datadir["$i $j"]:-} ]]; then
    echo "pods: no pod $ns was added" >&2
    return 1
  fi
  if ! _pods_cni DEL "$i" "$j" "$dir/p$j.conf" "$dir/p$j.del"; then
    echo "pods: CNI DEL for $ns failed:" >&2
    cat "$dir/p$j.del" >&2
    status=1
  fi
  ip netns del "$ns" || status=1
  unset '_pods_datadir[$i $j]'
  return $status
}
