#!/usr/bin/env bash
# e2e.package: shoal's Debian package, installed for real and purged. Builds it from BUILD_DIR
# (scripts/package, which runs lintian: no errors allowed), installs it with dpkg, checks
# every file it promises and `systemd-analyze verify` on its unit, then runs the installed
# agent as systemd would run a Type=notify unit: with NOTIFY_SOCKET (read by
# tests/e2e/notify_listen.py) and WATCHDOG_USEC, in a network namespace. The agent must say
# READY=1 only after subnet.env is written, send STATUS= lines and watchdog pings, reload
# its key file on SIGHUP (RELOADING=1, then READY=1) and say STOPPING=1 on SIGTERM. Then
# `dpkg --purge` must leave none of the package's files behind.
#
#   bash tests/e2e/package_test.sh build/release
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(realpath "${1:?usage: package_test.sh BUILD_DIR}")
# shellcheck source=tests/e2e/netns.sh
source "$here/netns.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$here/cluster.sh"
require_root "e2e.package"
if dpkg-query -W -f='${Status}' shoal 2>/dev/null | grep -q "ok installed"; then
  echo "SKIP: e2e.package: a shoal package is installed on this machine already; not touching it"
  exit 77
fi
on_fail() {  # what cluster.sh's fail shows besides the agents' logs
  [[ -f ${work:-}/notify.log ]] && { echo "--- notify messages"; cat "$work/notify.log"; }
  [[ -f ${work:-}/agent.log ]] && { echo "--- agent log"; tail -n 20 "$work/agent.log"; }
  return 0
}

work=$(mktemp -d /tmp/shoal-package.XXXXXX)
netns_at_cleanup "rm -rf $work"
installed=0
purge() {  # removes the package if this test installed it (also on failure)
  if ((installed)); then dpkg --purge shoal >/dev/null 2>&1 || true; fi
  installed=0
}
netns_at_cleanup purge

step "build the package from $build (lintian must report no errors)"
PACKAGE_BUILD_DIR=$build "$root/scripts/package" >"$work/package.log" 2>&1 ||
  { tail -n 30 "$work/package.log" >&2; fail "scripts/package failed"; }
deb=$(ls "$build"/shoal_*.deb)

step "install $(basename "$deb") and check its files"
installed=1
dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
for f in /usr/bin/shoal /usr/bin/shoal-sim /usr/bin/shoal-chaos /usr/share/man/man8/shoal-chaos.8.gz \
  /usr/share/shoal/scenarios/split-brain-and-heal.json /usr/lib/cni/shoal-cni /lib/systemd/system/shoal.service \
  /etc/shoal/config.json /usr/share/doc/shoal/examples/10-shoal.conflist \
  /usr/share/doc/shoal/copyright /usr/share/man/man8/shoal.8.gz /usr/share/man/man8/shoal-cni.8.gz; do
  [[ -e $f ]] || fail "the package did not install $f"
done
[[ $(readlink /opt/cni/bin/shoal-cni) == /usr/lib/cni/shoal-cni ]] ||
  fail "/opt/cni/bin/shoal-cni does not link to /usr/lib/cni/shoal-cni"
grep -qx /etc/shoal/config.json /var/lib/dpkg/info/shoal.conffiles || fail "config.json is not a conffile"
shoal version | grep -q "^shoal " || fail "shoal version does not run"
/usr/lib/cni/shoal-cni --version | grep -q "CNI 1.1.0" || fail "shoal-cni --version does not run"
jq -e '.plugins[0].type == "shoal-cni"' /usr/share/doc/shoal/examples/10-shoal.conflist >/dev/null ||
  fail "the conflist example does not name shoal-cni"
systemd-analyze verify /lib/systemd/system/shoal.service >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log" >&2; fail "systemd-analyze verify failed on shoal.service"; }
grep -q "^Type=notify" /lib/systemd/system/shoal.service || fail "the unit is not Type=notify"

step "the installed agent under a NOTIFY_SOCKET: READY=1 after subnet.env, STATUS, watchdog"
netns_setup "pkg$$" 1
python3 "$here/notify_listen.py" "$work/notify" "$work/notify.log" 120 &
listener=$!
netns_at_cleanup "kill $listener 2>/dev/null || true"
wait_until 5 test -S "$work/notify" || fail "the notify listener did not start"
umask 077
shoal keygen >"$work/cluster.key"
netns_spawn 1 "$work/agent.log" env NOTIFY_SOCKET="$work/notify" WATCHDOG_USEC=1000000 \
  /usr/bin/shoal agent --network 198.18.0.0/16 --bind "$(netns_addr 1):7946" \
  --key-file "$work/cluster.key" --data-dir "$work/data" --subnet-file "$work/subnet.env" \
  --control-socket "$work/shoal.sock"
agent=$(netns_pids 1 | tail -n 1)
wait_until 20 grep -qx READY=1 "$work/notify.log" || fail "no READY=1 within 20 s"
# READY=1 is sent right after subnet.env is written, never before.
[[ -s $work/subnet.env ]] || fail "READY=1 came before subnet.env was written"
wait_until 5 grep -q "^STATUS=1 member(s) alive; subnet 198.18.*; backend vxlan" "$work/notify.log" ||
  fail "no STATUS= line naming the subnet"
wait_until 5 eval '(( $(grep -c "^WATCHDOG=1" "$work/notify.log") >= 3 ))' ||
  fail "fewer than 3 WATCHDOG=1 pings in 5 s with WatchdogSec=1s"

step "SIGHUP re-reads the key file (a second key installed by hand)"
shoal keygen >>"$work/cluster.key"
kill -HUP "$agent"
wait_until 5 grep -q "SIGHUP: re-read .*: 2 key(s)" "$work/agent.log" || fail "SIGHUP did not reload the key file"
grep -qx RELOADING=1 "$work/notify.log" || fail "no RELOADING=1 on SIGHUP"
(($(grep -cx READY=1 "$work/notify.log") >= 2)) || fail "no READY=1 after the reload"
shoal status --control-socket "$work/shoal.sock" | grep -q "2 keys" || fail "shoal status does not show 2 keys"

step "SIGTERM: STOPPING=1"
kill -TERM "$agent"
wait_until 10 grep -qx STOPPING=1 "$work/notify.log" || fail "no STOPPING=1 on SIGTERM"
wait_until 10 not kill -0 "$agent" 2>/dev/null || fail "the agent did not stop on SIGTERM"

step "purge: nothing of the package is left"
dpkg --purge shoal >/dev/null || fail "dpkg --purge failed"
installed=0
for f in /usr/bin/shoal /usr/bin/shoal-sim /usr/bin/shoal-chaos /usr/share/man/man8/shoal-chaos.8.gz \
  /usr/share/shoal/scenarios/split-brain-and-heal.json /usr/lib/cni/shoal-cni /opt/cni/bin/shoal-cni \
  /lib/systemd/system/shoal.service /etc/shoal /usr/share/doc/shoal /usr/share/man/man8/shoal.8.gz; do
  [[ ! -e $f && ! -L $f ]] || fail "$f is still there after the purge"
done
! dpkg-query -W shoal >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' shoal | grep -q installed ||
  fail "dpkg still lists shoal as installed"
echo "PASS: e2e.package"
