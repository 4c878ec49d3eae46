# shellcheck shell=bash
# tests/e2e/podman.sh — real podman containers (Debian 12's podman 4.3, CNI network backend)
# inside network namespaces that play "hosts", each host with its own podman storage and its
# own CNI configuration directory. Works alone or next to tests/e2e/netns.sh.
#
# Source it, then:
#   podman_prereqs my_test || exit 77        # installs what is missing; one SKIP line if it can't
#   podman_host_init h1ns "$work/h1"         # storage, containers.conf, CNI dir for host h1ns
#   cat >"$(podman_cni_dir h1ns)/cbr0.conflist" <<EOF   # the caller's CNI network, named
#   { ... "name": "cbr0", ... "ipam": {"dataDir": "$(podman_ipam_dir h1ns)", ...} }   # cbr0
#   EOF
#   podman_image_load h1ns                   # the busybox image into that host's storage
#   podman_run h1ns c1                       # detached container "c1" running `sleep infinity`
#   podman_run h1ns c2 --cap-add NET_ADMIN -- sh -c 'exec sleep 300'   # options, then command
#   podman_exec h1ns c1 ping -c1 100.64.2.2  # a command in the container, in the foreground
#   podman_ip h1ns c1                        # its IPv4 address on eth0, without prefix length
#   podman_rm h1ns c1                        # stop (SIGKILL, no grace) and remove it
#   podman_cmd h1ns ps -a                    # any other podman command for that host
#   podman_cleanup                           # everything below, for every host; safe twice
#
# Functions:
#   podman_prereqs [TEST]     root? packages podman runc busybox-static
#                             containernetworking-plugins present (installs them with
#                             --no-install-recommends, `apt-get update` once if needed)? cgroups
#                             mounted? On failure prints "SKIP: TEST: <why>" and returns 1.
#   podman_host_init NS DIR [NET]  NS is a namespace in /run/netns. DIR must not exist or be
#                             empty: the library owns it and podman_cleanup deletes it. Makes
#                             DIR/{root,runroot,tmp,cni,ipam} and DIR/containers.conf. NET is the
#                             CNI network name podman_run attaches to (default cbr0): the caller
#                             writes a conflist with that "name" into DIR/cni before podman_run.
#   podman_cni_dir NS, podman_ipam_dir NS    DIR/cni, DIR/ipam (a dataDir for host-local)
#   podman_image_load NS      builds (once per shell) a tarball of Debian's static busybox with
#                             a symlink per applet in /bin, and `podman import`s it into NS's
#                             storage as $PODMAN_IMAGE. Nothing is pulled, ever.
#   podman_run NS NAME [OPT...] [-- CMD...]  `podman run -d` (default CMD: sleep infinity).
#   podman_exec NS NAME CMD...  podman_ip NS NAME  podman_rm NS NAME  podman_cmd NS ARG...
#   podman_cgroup_parent NS   for a `podman_cmd NS run` of the caller's own (see podman_run's
#                             options below); podman_cleanup removes such containers too.
#   podman_cleanup            `podman rm -f -a` per host, then kills what is left of ours (by
#                             recorded PID and start time), unmounts whatever is still mounted
#                             under DIR or at a container's /run/netns file, removes the
#                             containers' cgroup parents and DIR. Call it while the host
#                             namespaces still exist (CNI DEL runs in them): with netns.sh,
#                             `netns_at_cleanup podman_cleanup` does that. A host whose
#                             namespace is already gone gets no `podman rm`: its containers are
#                             killed, and their namespace files, libcni results and runc state
#                             removed by container ID.
#
# Variables (set before podman_host_init): PODMAN_CNI_PLUGIN_DIRS (colon-separated CNI_PATH,
# default /usr/lib/cni; put a plugin under test first), PODMAN_IMAGE (the image's name),
# PODMAN_ULIMITS (podman_run's --ulimit options), PODMAN_TIMEOUT (seconds one podman command
# may take, default 60).
#
# How podman runs (each item is a pitfall met on Debian 12 in this sandbox):
# - `nsenter --net=/run/netns/NS podman ...`, not `ip netns exec`: the latter remounts /sys for
#   the namespace, which hides /sys/fs/cgroup: "runc create failed: no cgroup mount found in
#   mountinfo". Only the network namespace changes, so the CNI plugins (run by podman) put
#   cni0 and the host veth ends into NS, and write NS's own /proc/sys (ip_forward), not the
#   root namespace's.
# - runtime runc, cgroup manager cgroupfs: there is no systemd, and crun is said to refuse
#   this hybrid cgroup v1 + v2 layout (not retried: --no-install-recommends brings no crun).
# - --ulimit nofile=1024:1024 --ulimit nproc=4096:4096: podman's defaults for root (1048576
#   and 4194304) exceed this sandbox's hard limits, and runc fails with "error setting rlimit
#   type 7: operation not permitted".
# - CONTAINERS_CONF=DIR/containers.conf (network_backend "cni", network_config_dir DIR/cni,
#   cni_plugin_dirs from $PODMAN_CNI_PLUGIN_DIRS, tmp_dir DIR/tmp, lock_type "file", events to
#   a file) plus --root/--runroot/--tmpdir on the command line. tmp_dir and lock_type matter:
#   with the defaults every host's podman would share /run/libpod (whose "alive" file tells
#   podman whether a storage needs its after-boot refresh) and the lock segment
#   /dev/shm/libpod_lock, which would also stay behind; file locks live in DIR/tmp/locks.
#   conmon's exit command (`podman container cleanup`) gets the same flags and inherits
#   CONTAINERS_CONF.
# - storage driver vfs: the image is 2 MB, so copying it per container costs nothing, and vfs
#   mounts nothing on the host (overlay mounts each container's root in the root namespace).
# - --ipc none (ipcns "none" in containers.conf too; a private IPC namespace without
#   /dev/shm): otherwise podman mounts a tmpfs for each container's /dev/shm at
#   DIR/root/.../userdata/shm in the root mount namespace (even with --ipc private), which
#   stays mounted if the container is not removed by podman.
# - --stop-signal KILL and `rm -t 0`: `sleep` as PID 1 ignores SIGTERM, and podman would wait
#   the 10 s grace period on every removal.
# - --cgroups no-conmon (also in containers.conf) and --cgroup-parent /shoal-e2e-<token>-<NS>:
#   runc's cgroups go under a parent of ours, which cleanup removes (podman's default parent
#   /libpod_parent, with a "conmon" child, would stay); conmon stays in our cgroup.
# - --network NET always (and default_network NET), --pull never: podman's own default network
#   would be 10.88.0.0/16 (default_subnet is set to 198.18.255.0/24 in case), and there is no
#   registry to pull from.
# - A conflist podman cannot use (its plugin missing from cni_plugin_dirs, or failing the
#   VERSION query podman runs when it loads the file) is skipped with a mere warning ("Error
#   validating CNI config file ..."), and podman then makes a bridge network of that name
#   itself (default_network names it), on default_subnet: containers start, with 198.18.255.x.
#   podman_run's check that the conflist exists cannot see this; `podman_cmd NS network inspect
#   --format '{{.Driver}}' NET` names the conflist's first plugin when podman uses it.
# - podman makes each container's network namespace itself, as /run/netns/netns-<uuid> (visible
#   to `ip netns list` while the container lives); `podman rm` removes it.
# - Fixed system paths that podman/CNI create once and leave (empty or a cache; they do not
#   grow per run): /run/runc (runc state), /var/lib/cni/results (libcni's result cache, one file
#   per live container), /var/lib/containers/cache/blob-info-cache-v1.boltdb (`podman import`).
#
# Works under `set -euo pipefail` and does not change the caller's shell options. Call the
# functions that change state (podman_host_init, podman_run) directly, not inside $(...): a
# subshell's bookkeeping is lost when it returns.

PODMAN_IMAGE=${PODMAN_IMAGE:-localhost/shoal-e2e-busybox:latest}
# Where podman looks for CNI plugins (CNI_PATH), colon-separated: put the directory of a plugin
# under test (e.g. shoal-cni) first; Debian's bridge, host-local etc. are in /usr/lib/cni.
PODMAN_CNI_PLUGIN_DIRS=${PODMAN_CNI_PLUGIN_DIRS:-/usr/lib/cni}
PODMAN_ULIMITS=${PODMAN_ULIMITS:-"--ulimit nofile=1024:1024 --ulimit nproc=4096:4096"}
PODMAN_TIMEOUT=${PODMAN_TIMEOUT:-60} # seconds any single podman command may take
PODMAN_PACKAGES=(podman runc busybox-static containernetworking-plugins)

declare -gA _podman_dir=()     # NS -> DIR
declare -gA _podman_net=()     # NS -> CNI network name
declare -gA _podman_cgroup=()  # NS -> cgroup parent (relative to each hierarchy's root)
_podman_hosts=()               # NS in order of podman_host_init
_podman_pid=()                 # every container's conmon and main process we saw:
_podman_start=()               #   its PID and start time (field 22 of /proc/PID/stat)
_podman_sandboxes=()           # every container's /run/netns/netns-* file
_podman_ids=()                 # every container's full ID
_podman_image_tar=""           # the busybox tarball, built once per shell
_podman_token="$$.${RANDOM}"   # makes cgroup names unique to this shell
_podman_apt_updated=0

# ---- small utilities -------------------------------------------------------------------------

# _podman_starttime PID: the start time of PID in clock ticks since boot; fails when PID is
# gone or a zombie (init here reaps orphans only every second or two).
_podman_starttime() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) } # fields after "(comm) ", comm may hold spaces
  # shellcheck disable=SC2086 # splitting the fields is the point
  set -- $stat
  [[ $1 != [ZX] ]] || return 1 # field 3, the state
  echo "${20}"                 # field 22, the start time
}

# _podman_track PID: remember PID (and its start time) for podman_cleanup.
_podman_track() {
  local st
  [[ $1 =~ ^[1-9][0-9]*$ ]] || return 0
  st=$(_podman_starttime "$1") || return 0
  _podman_pid+=("$1")
  _podman_start+=("$st")
}

# _podman_is_ours K: tracked process K still runs (same PID and start time).
_podman_is_ours() {
  [[ $(_podman_starttime "${_podman_pid[$1]}" 2>/dev/null) == "${_podman_start[$1]}" ]]
}

# _podman_now_ms: milliseconds since the epoch, without forking.
_podman_now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo $((t / 1000))
}

# _podman_known NS: NS was given to podman_host_init.
_podman_known() {
  [[ -n ${_podman_dir[$1]:-} ]] && return 0
  echo "podman: host '$1' unknown (podman_host_init first)" >&2
  return 1
}

# ---- prerequisites ---------------------------------------------------------------------------

# _podman_installed PKG: the Debian package PKG is installed.
_podman_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# podman_prereqs [TEST]: see the top. Returns 0 when podman can run here, else prints one
# "SKIP: TEST: reason" line and returns 1.
podman_prereqs() {
  local test=${1:-podman} p missing=()
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: $test: needs root (network namespaces, rootful podman)"
    return 1
  fi
  for p in "${PODMAN_PACKAGES[@]}"; do
    _podman_installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "# podman: installing ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null 2>&1; then
      if ((!_podman_apt_updated)); then
        _podman_apt_updated=1
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
      fi
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null 2>&1; then
        echo "SKIP: $test: could not install ${missing[*]} (apt-get install failed)"
        return 1
      fi
    fi
  fi
  for p in /usr/bin/podman /usr/sbin/runc /bin/busybox /usr/lib/cni/bridge \
    /usr/lib/cni/host-local /usr/bin/nsenter; do
    if [[ ! -x $p ]]; then
      echo "SKIP: $test: $p missing after installing ${PODMAN_PACKAGES[*]}"
      return 1
    fi
  done
  if ! grep -qE '^cgroup2? ' /proc/mounts; then
    echo "SKIP: $test: no cgroup filesystem mounted (runc needs one)"
    return 1
  fi
  return 0
}

# ---- hosts -----------------------------------------------------------------------------------

# podman_host_init NS DIR [NET]: see the top.
podman_host_init() {
  local ns=$1 dir=$2 net=${3:-cbr0} plugin_dirs="" d dirs=()
  if [[ ! -e /run/netns/$ns ]]; then
    echo "podman: no network namespace /run/netns/$ns" >&2
    return 1
  fi
  if [[ -n ${_podman_dir[$ns]:-} ]]; then
    echo "podman: host $ns already initialised (in ${_podman_dir[$ns]})" >&2
    return 1
  fi
  if [[ $dir != /* ]]; then
    echo "podman: DIR must be absolute: $dir" >&2
    return 1
  fi
  if [[ -e $dir && -n $(ls -A "$dir") ]]; then
    echo "podman: $dir is not empty; it would be deleted by podman_cleanup" >&2
    return 1
  fi
  # Recorded before anything is made, so that cleanup sees a half-made host too.
  _podman_dir[$ns]=$dir
  _podman_net[$ns]=$net
  _podman_cgroup[$ns]="shoal-e2e-${_podman_token}-${ns}"
  _podman_hosts+=("$ns")
  mkdir -p "$dir"/{root,runroot,tmp,cni,ipam} || return 1
  IFS=: read -r -a dirs <<<"$PODMAN_CNI_PLUGIN_DIRS"
  for d in "${dirs[@]}"; do
    [[ -n $d ]] && plugin_dirs+="${plugin_dirs:+, }\"$d\""
  done
  cat >"$dir/containers.conf" <<EOF
# Written by tests/e2e/podman.sh for host namespace $ns.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
ipcns = "none"
cgroups = "no-conmon"
log_driver = "k8s-file"

[network]
network_backend = "cni"
network_config_dir = "$dir/cni"
cni_plugin_dirs = [$plugin_dirs]
default_network = "$net"
default_subnet = "198.18.255.0/24"
default_subnet_pools = [{"base" = "198.18.0.0/16", "size" = 24}]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
tmp_dir = "$dir/tmp"
lock_type = "file"
events_logger = "file"
events_logfile_path = "$dir/events.log"
volume_path = "$dir/root/volumes"
image_copy_tmp_dir = "$dir/tmp"
EOF
}

# podman_cni_dir NS, podman_ipam_dir NS: where NS's conflist goes, a dataDir for host-local.
podman_cni_dir() { _podman_known "$1" && echo "${_podman_dir[$1]}/cni"; }
podman_ipam_dir() { _podman_known "$1" && echo "${_podman_dir[$1]}/ipam"; }

# podman_cgroup_parent NS: the --cgroup-parent that podman_run gives NS's containers; pass it
# to a `podman_cmd NS run` of your own, or runc's cgroups land in /libpod_parent.
podman_cgroup_parent() { _podman_known "$1" && echo "/${_podman_cgroup[$1]}"; }

# podman_cmd NS ARG...: `podman ARG...` for host NS, in its network namespace, with its
# storage and configuration; killed after PODMAN_TIMEOUT seconds.
podman_cmd() {
  local ns=$1
  _podman_known "$ns" || return 1
  shift
  _podman_in "${_podman_dir[$ns]}" nsenter --net="/run/netns/$ns" "$@"
}

# _podman_in DIR [WRAPPER...] ARG...: podman ARG... on DIR's storage, behind WRAPPER (up to
# and including an argument that is not an option, e.g. `nsenter --net=PATH`; none for
# read-only commands that may run in the root network namespace, as cleanup's inventory does).
_podman_in() {
  local dir=$1 wrapper=()
  shift
  if [[ ${1:-} == nsenter ]]; then
    wrapper=("$1" "$2")
    shift 2
  fi
  CONTAINERS_CONF="$dir/containers.conf" TMPDIR="$dir/tmp" \
    timeout -k 5 "$PODMAN_TIMEOUT" ${wrapper[@]+"${wrapper[@]}"} \
    podman --root "$dir/root" --runroot "$dir/runroot" --tmpdir "$dir/tmp" \
    --storage-driver vfs --cgroup-manager cgroupfs --runtime runc --events-backend file "$@"
}

# ---- the image -------------------------------------------------------------------------------

# _podman_image_tar: builds the busybox root filesystem tarball once, in the first host's DIR.
_podman_image_tar() {
  [[ -n $_podman_image_tar && -s $_podman_image_tar ]] && return 0
  local base=${_podman_dir[${_podman_hosts[0]}]}/image rootfs applet
  rootfs=$base/rootfs
  rm -rf "$base"
  mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,run,root,var/tmp} || return 1
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  cp /bin/busybox "$rootfs/bin/busybox" || return 1
  while read -r applet; do
    [[ -n $applet && $applet != busybox ]] && ln -s busybox "$rootfs/bin/$applet"
  done < <(/bin/busybox --list)
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$base/rootfs.tar" . || return 1
  rm -rf "$rootfs"
  _podman_image_tar=$base/rootfs.tar
}

# podman_image_load NS: see the top.
podman_image_load() {
  local ns=$1
  _podman_known "$ns" || return 1
  _podman_image_tar || return 1
  podman_cmd "$ns" import --change 'CMD ["/bin/sleep", "infinity"]' \
    "$_podman_image_tar" "$PODMAN_IMAGE" >/dev/null 2>"${_podman_dir[$ns]}/import.err" || {
    echo "podman: import into $ns failed:" >&2
    cat "${_podman_dir[$ns]}/import.err" >&2
    return 1
  }
}

# ---- containers ------------------------------------------------------------------------------

# podman_run NS NAME [OPT...] [-- CMD...]: see the top.
podman_run() {
  local ns=$1 name=$2 net conf opts=() cmd=() seen=0 a
  _podman_known "$ns" || return 1
  shift 2
  for a in "$@"; do
    if ((seen)); then
      cmd+=("$a")
    elif [[ $a == -- ]]; then
      seen=1
    else
      opts+=("$a")
    fi
  done
  ((${#cmd[@]})) || cmd=(sleep infinity)
  net=${_podman_net[$ns]}
  # Refuse to start without the caller's network: podman would invent one in memory.
  conf=$(grep -lE "\"name\"[[:space:]]*:[[:space:]]*\"$net\"" "${_podman_dir[$ns]}"/cni/*.conf* \
    2>/dev/null | head -n 1)
  if [[ -z $conf ]]; then
    echo "podman: no CNI configuration named '$net' in ${_podman_dir[$ns]}/cni" >&2
    return 1
  fi
  # shellcheck disable=SC2206 # PODMAN_ULIMITS is a list of words
  local ulimits=($PODMAN_ULIMITS)
  podman_cmd "$ns" run -d --name "$name" --hostname "$name" --network "$net" --pull never \
    --ipc none --stop-signal KILL --cgroups no-conmon \
    --cgroup-parent "/${_podman_cgroup[$ns]}" "${ulimits[@]}" \
    ${opts[@]+"${opts[@]}"} "$PODMAN_IMAGE" "${cmd[@]}" >/dev/null || {
    echo "podman: run $name on $ns failed" >&2
    podman_cmd "$ns" rm -f -t 0 "$name" >/dev/null 2>&1
    return 1
  }
  _podman_inventory "${_podman_dir[$ns]}" "$name"
}

# _podman_inventory DIR NAME...: records the named containers of DIR's storage (all of them
# without NAME) for podman_cleanup: their IDs, conmon and main PIDs, network namespace files.
_podman_inventory() {
  local dir=$1 line id conmon pid sandbox names
  shift
  if (($#)); then
    names=("$@")
  else
    mapfile -t names < <(_podman_in "$dir" ps -a -q --no-trunc 2>/dev/null)
    ((${#names[@]})) || return 0
  fi
  while read -r line; do
    read -r id conmon pid sandbox <<<"$line"
    [[ $id =~ ^[0-9a-f]{64}$ ]] || continue
    [[ " ${_podman_ids[*]} " == *" $id "* ]] || _podman_ids+=("$id")
    _podman_track "$conmon"
    _podman_track "$pid"
    [[ $sandbox == /run/netns/* ]] && _podman_sandboxes+=("$sandbox")
  done < <(_podman_in "$dir" inspect --format \
    '{{.Id}} {{.State.ConmonPid}} {{.State.Pid}} {{.NetworkSettings.SandboxKey}}' \
    "${names[@]}" 2>/dev/null)
  return 0
}

# podman_exec NS NAME CMD...: runs CMD in container NAME on NS, in the foreground.
podman_exec() {
  local ns=$1 name=$2
  shift 2
  podman_cmd "$ns" exec "$name" "$@"
}

# podman_ip NS NAME: the container's IPv4 address on eth0, without the prefix length.
podman_ip() {
  local a
  a=$(podman_exec "$1" "$2" ip -4 -o addr show dev eth0 | awk '{ print $4; exit }') || return 1
  if [[ -z $a ]]; then
    echo "podman: container $2 on $1 has no IPv4 address on eth0" >&2
    return 1
  fi
  echo "${a%/*}"
}

# podman_rm NS NAME: stops NAME at once (SIGKILL) and removes it with its network (CNI DEL).
podman_rm() {
  podman_cmd "$1" rm -f -t 0 "$2" >/dev/null
}

# ---- cleanup ---------------------------------------------------------------------------------

# _podman_mounts_under DIR: mount points at or below DIR in our mount namespace, deepest first.
_podman_mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# _podman_our_podmans DIR: PIDs of podman and conmon processes working on DIR's storage: a
# conmon whose container podman could not remove, or conmon's exit command (`podman container
# cleanup`), which runs on for a moment after the container is gone.
_podman_our_podmans() {
  local p args
  for p in /proc/[0-9]*; do
    args=()
    { mapfile -d '' -t args <"$p/cmdline"; } 2>/dev/null || continue
    ((${#args[@]})) || continue
    case ${args[0]##*/} in
      podman | conmon) [[ " ${args[*]} " == *" $1/"* ]] && echo "${p#/proc/}" ;;
    esac
  done
  return 0
}

# _podman_leftover_procs: PIDs of tracked processes still running, and of podman processes
# still working on one of our storages.
_podman_leftover_procs() {
  local k ns
  for k in "${!_podman_pid[@]}"; do
    _podman_is_ours "$k" && echo "${_podman_pid[k]}"
  done
  for ns in ${_podman_hosts[@]+"${_podman_hosts[@]}"}; do
    _podman_our_podmans "${_podman_dir[$ns]}"
  done
}

# podman_cleanup: see the top. Safe to call twice, and with nothing set up.
podman_cleanup() {
  local - # keep `set +e` local: cleanup goes on past failures
  set +e
  trap '' PIPE # a reader that went away (`... | head`) must not kill us halfway
  local ns dir m deadline pids p cg h id grace=5000 PODMAN_TIMEOUT=30
  for ns in ${_podman_hosts[@]+"${_podman_hosts[@]}"}; do
    dir=${_podman_dir[$ns]}
    [[ -d $dir/root ]] || continue
    # Containers that podman_run did not start (podman_cmd run ...) are recorded too, in case
    # `podman rm` fails or cannot run (CNI DEL needs the host's namespace).
    _podman_inventory "$dir"
    if [[ ! -e /run/netns/$ns ]]; then
      echo "# podman: namespace $ns is gone; killing its containers instead of 'podman rm'" >&2
      grace=0
      continue
    fi
    if ! podman_cmd "$ns" rm -f -a -t 0 >/dev/null 2>&1; then
      echo "# podman: 'podman rm -f -a' failed on $ns" >&2
      grace=0
    fi
  done
  # conmon exits, and its exit command (`podman container cleanup`) finishes, shortly after
  # `podman rm`: give them 5 s (none if some `podman rm` did not run), then KILL what is left.
  deadline=$(($(_podman_now_ms) + grace))
  while [[ -n $(_podman_leftover_procs) ]] && (($(_podman_now_ms) < deadline)); do
    sleep 0.05
  done
  pids=$(_podman_leftover_procs | sort -u | tr '\n' ' ')
  if [[ -n ${pids// /} ]]; then
    echo "# podman: killing processes of ours still running: $pids" >&2
    # shellcheck disable=SC2086 # a list of PIDs
    kill -s KILL $pids 2>/dev/null
    deadline=$(($(_podman_now_ms) + 2000))
    while [[ -n $(_podman_leftover_procs) ]] && (($(_podman_now_ms) < deadline)); do
      sleep 0.05
    done
  fi
  # What podman did not tear down, when `podman rm` failed: the containers' network
  # namespaces, libcni's cached results and runc's state, each found by our containers' IDs.
  for p in ${_podman_sandboxes[@]+"${_podman_sandboxes[@]}"}; do
    [[ -e $p ]] || continue
    echo "# podman: removing leftover container namespace $p" >&2
    umount -l "$p" 2>/dev/null
    rm -f "$p"
  done
  for id in ${_podman_ids[@]+"${_podman_ids[@]}"}; do
    for p in /var/lib/cni/results/*-"$id"-* /run/runc/"$id"; do
      [[ -e $p ]] || continue
      echo "# podman: removing leftover $p" >&2
      rm -rf "$p"
    done
  done
  for ns in ${_podman_hosts[@]+"${_podman_hosts[@]}"}; do
    dir=${_podman_dir[$ns]}
    while read -r m; do
      [[ -n $m ]] || continue
      echo "# podman: unmounting leftover $m" >&2
      umount -l "$m" 2>/dev/null
    done < <(_podman_mounts_under "$dir")
    # runc deletes each container's cgroup; the parent is ours to remove, in every hierarchy.
    cg=${_podman_cgroup[$ns]}
    for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
      [[ -d $h/$cg ]] || continue
      find "$h/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
      [[ -d $h/$cg ]] && echo "# podman: could not remove cgroup $h/$cg" >&2
    done
    rm -rf --one-file-system "$dir"
  done
  _podman_dir=()
  _podman_net=()
  _podman_cgroup=()
  _podman_hosts=()
  _podman_pid=()
  _podman_start=()
  _podman_sandboxes=()
  _podman_ids=()
  _podman_image_tar=""
  trap - PIPE
  return 0
}
