#!/usr/bin/env bash
# fsfilter@.service as installed: `systemd-analyze verify` finds nothing to
# say about it (no systemd runs here: its ExecStart paths are pointed at the
# staged install for the check only), and what the unit runs works without
# systemd: ExecStartPre (fsfilter check) and ExecStart (mount --config,
# Type=forking) with %i expanded and /etc/fsfilter/ replaced by a temp dir:
# ExecStart returns 0 only with the volume mounted (so units ordered after
# it see the mount), one daemon process stays (GuessMainPID), and
# KillSignal (SIGTERM, as `systemctl stop` sends) unmounts cleanly; after a
# daemon killed with -9, ExecStopPost detaches the dead mount so that a
# restart (ExecStartPre + ExecStart again) mounts the volume.
# Env: BUILD_DIR, PREFIX.
set -u
fail() { echo "systemd_unit: FAIL: $*" >&2; exit 1; }
base=$(mktemp -d /tmp/fsfilter-unit.XXXXXX) || fail mktemp
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		"$fs" unmount "$base/mnt" >/dev/null 2>&1 || umount -l "$base/mnt" 2>/dev/null
		sleep 0.2
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$base"
}
trap cleanup EXIT
DESTDIR=$base/stage cmake --install "$BUILD_DIR" >"$base/install.log" 2>&1 ||
	{ cat "$base/install.log" >&2; fail "cmake --install"; }
unit=$base/stage$PREFIX/lib/systemd/system/fsfilter@.service
fs=$base/stage$PREFIX/bin/fsfilter
[[ -f $unit ]] || fail "unit not installed"
grep -qx "ExecStart=$PREFIX/bin/fsfilter mount --config /etc/fsfilter/%i.conf" "$unit" ||
	fail "unexpected ExecStart: $(grep ^ExecStart= "$unit")"

# --- systemd-analyze verify ----------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	sed "s|$PREFIX/bin/fsfilter|$fs|g" "$unit" >"$base/fsfilter@.service"
	out=$(systemd-analyze verify --man=no "$base/fsfilter@.service" 2>&1)
	rc=$?
	((rc == 0)) && [[ -z $out ]] || fail "systemd-analyze verify ($rc): $out"
else
	echo "systemd_unit: no systemd-analyze: not verified" >&2
fi

[[ -c /dev/fuse ]] && ((EUID == 0)) || { echo "systemd_unit: ok (not run: no /dev/fuse or not root)"; exit 0; }

# --- what the unit runs, by hand ---------------------------------------------------
mkdir "$base/etc" "$base/lower" "$base/mnt"
echo data >"$base/lower/f"
cat >"$base/etc/demo.conf" <<CONF
[volume]
lower = $base/lower
mountpoint = $base/mnt
[filter noop]
CONF
cmdline() { # the unit's command of KEY, %i = demo, /etc/fsfilter -> temp
	sed -n "s|^$1=||p" "$unit" | sed "s|$PREFIX/bin/fsfilter|$fs|; s|%i|demo|g; s|/etc/fsfilter/|$base/etc/|g"
}
pre=$(cmdline ExecStartPre)
start=$(cmdline ExecStart)
[[ -n $pre && -n $start ]] || fail "no ExecStartPre/ExecStart"
# shellcheck disable=SC2086
$pre >"$base/pre.log" 2>&1 || fail "ExecStartPre failed: $(cat "$base/pre.log")"
grep -qx "Type=forking" "$unit" || fail "the unit is not Type=forking"
# shellcheck disable=SC2086
$start >"$base/start.log" 2>&1
rc=$?
((rc == 0)) || fail "ExecStart exited $rc: $(cat "$base/start.log")"
awk -v m="$base/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo ||
	fail "ExecStart returned before the volume was mounted"
pid=$("$fs" status "$base/mnt" | sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' | head -n1)
[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || fail "no daemon process (pid '$pid')"
[[ $(cat "$base/mnt/f" 2>/dev/null) == data ]] || fail "volume of the unit not serving"
sig=$(sed -n 's/^KillSignal=//p' "$unit")
kill -"${sig#SIG}" "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running 10 s after $sig"
pid=
awk -v m="$base/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo &&
	fail "still mounted after $sig"

# --- a crash, then Restart=on-failure ---------------------------------------------
post=$(cmdline ExecStopPost)
[[ $post == -* ]] || fail "ExecStopPost does not ignore its failure: $post"
post=${post#-}
# shellcheck disable=SC2086
$start >"$base/start.log" 2>&1 || fail "second ExecStart: $(cat "$base/start.log")"
pid=$("$fs" status "$base/mnt" | sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' | head -n1)
[[ -n $pid ]] || fail "no daemon pid after the second start"
kill -KILL "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
pid=
# shellcheck disable=SC2086
$post >"$base/post.log" 2>&1 || fail "ExecStopPost after a crash: $(cat "$base/post.log")"
awk -v m="$base/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo &&
	fail "the dead mount is still there after ExecStopPost"
# shellcheck disable=SC2086
$pre >"$base/pre.log" 2>&1 || fail "ExecStartPre after a crash: $(cat "$base/pre.log")"
# shellcheck disable=SC2086
$start >"$base/start.log" 2>&1 || fail "restart after a crash: $(cat "$base/start.log")"
pid=$("$fs" status "$base/mnt" | sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' | head -n1)
[[ $(cat "$base/mnt/f" 2>/dev/null) == data ]] || fail "restarted volume not serving"
"$fs" unmount "$base/mnt" || fail "unmount of the restarted volume"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
pid=
# after a clean stop ExecStopPost finds nothing to do (and fails, ignored)
# shellcheck disable=SC2086
$post >/dev/null 2>&1 && fail "ExecStopPost claims to unmount a volume that is not mounted"
echo "systemd_unit: ok"
