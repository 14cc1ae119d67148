#!/usr/bin/env bash
# mount(8) and /etc/fstab mount fsfilter volumes through the installed
# mount helper, exactly as on an installed system: the staged install's
# mount.fuse.fsfilter is made visible as /sbin/mount.fuse.fsfilter inside a
# private mount namespace (a bind mount of a copy of /usr/sbin there), so
# the shared machine's /sbin is never touched and nothing leaks out.
# Cases: mount -t fuse.fsfilter with filter= options, an fstab line
# (mount -T FILE MNT) with noauto/nofail/x-* options, an fstab line with
# config=FILE and LOWER "none", a bad filter failing mount(8) with the
# daemon's message, `fsfilter status` listing every volume, umount(8) and
# `fsfilter unmount` ending the daemons.
# Env: BUILD_DIR, PREFIX.
set -u
fail() { echo "mount_helper: FAIL: $*" >&2; exit 1; }
skip() { echo "mount_helper: SKIP: $*" >&2; exit 77; }

if [[ ${1:-} != --inside ]]; then
	[[ -c /dev/fuse ]] || skip "/dev/fuse missing"
	((EUID == 0)) || skip "needs root (mount namespaces, mount(8))"
	command -v unshare >/dev/null || skip "no unshare"
	base=$(mktemp -d /tmp/fsfilter-mounthelper.XXXXXX) || fail mktemp
	trap 'rm -rf "$base"' EXIT
	DESTDIR=$base/stage cmake --install "$BUILD_DIR" >"$base/install.log" 2>&1 ||
		{ cat "$base/install.log" >&2; fail "cmake --install"; }
	# the namespace (and every mount in it) goes away with its last process
	timeout -k 5 "${IT_TIMEOUT:-120}" unshare --mount --propagation private \
		bash "$0" --inside "$base"
	exit $?
fi

base=$2
stage=$base/stage
fs=$stage$PREFIX/bin/fsfilter
sbin=$(readlink -f /sbin)
mounts=()
cleanup() {
	local m
	for m in "${mounts[@]}"; do
		if awk -v m="$m" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			"$fs" unmount "$m" >/dev/null 2>&1 || umount -l "$m" 2>/dev/null
		fi
	done
}
trap cleanup EXIT
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
fstype() { awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo; }

# the fsfilter volumes of other tests came along into this namespace: drop
# them here (only here), so "status lists every volume" means ours and a
# broken one of another test cannot fail it (\ooo escapes undone by %b)
while read -r m; do
	umount -l "$(printf '%b' "$m")" 2>/dev/null
done < <(awk '$3 == "fuse.fsfilter" { print $2 }' /proc/self/mounts | sort -r)

# /sbin as installed: a copy of links to the real helpers plus ours
mkdir "$base/sbin"
for f in "$sbin"/*; do ln -s "$f" "$base/sbin/${f##*/}"; done
ln -sf "$stage$PREFIX/sbin/mount.fuse.fsfilter" "$base/sbin/mount.fuse.fsfilter"
ln -sf "$stage$PREFIX/sbin/mount.fsfilter" "$base/sbin/mount.fsfilter"
mount --bind "$base/sbin" "$sbin" || fail "bind mount over $sbin in the namespace"
[[ -x /sbin/mount.fuse.fsfilter ]] || fail "helper not visible as /sbin/mount.fuse.fsfilter"

mkdir -p "$base"/{lower,m1,m2,m3,m4}
echo one >"$base/lower/f"
echo secret >"$base/lower/s.forbidden"
mounts=("$base/m1" "$base/m2" "$base/m3" "$base/m4")

# --- mount -t fuse.fsfilter ------------------------------------------------------
out=$(mount -t fuse.fsfilter "$base/lower" "$base/m1" -o filter=nosuchfilter 2>&1) &&
	fail "mount(8) with an unknown filter succeeded"
is_mounted "$base/m1" && fail "an unknown filter mounted anyway"
[[ $out == *nosuchfilter* ]] || fail "mount(8) does not pass fsfilter's message on: $out"

hello=$(ls "$stage$PREFIX"/lib/fsfilter/filters/hello.so "$stage$PREFIX"/lib/*/fsfilter/filters/hello.so 2>/dev/null | head -n1)
[[ -f $hello ]] || fail "staged hello.so not found"
mount -t fuse.fsfilter "$base/lower" "$base/m1" -o "filter=noop,filter=$hello:deny,noatime" ||
	fail "mount -t fuse.fsfilter failed"
is_mounted "$base/m1" || fail "m1 not mounted after mount(8) returned"
[[ $(fstype "$base/m1") == fuse.fsfilter ]] || fail "m1 type $(fstype "$base/m1")"
[[ $(cat "$base/m1/f") == one ]] || fail "read through m1"
cat "$base/m1/s.forbidden" >/dev/null 2>&1 && fail "hello.so:deny from -o filter= not attached"
awk -v m="$base/m1" '$5 == m { print $6 }' /proc/self/mountinfo | grep -qw noatime ||
	fail "noatime did not reach the kernel: $(awk -v m="$base/m1" '$5 == m' /proc/self/mountinfo)"

# --- /etc/fstab lines (mount -T FILE) --------------------------------------------
cat >"$base/view.conf" <<CONF
[volume]
lower = $base/lower
mountpoint = $base/m3
[filter noop]
args = trace
CONF
cat >"$base/fstab" <<FSTAB
# test fstab
$base/lower  $base/m2  fuse.fsfilter  noauto,nofail,x-systemd.automount,filter=noop@370000,ro,relatime  0 0
none         $base/m3  fuse.fsfilter  noauto,config=$base/view.conf  0 0
FSTAB
mount -T "$base/fstab" "$base/m2" || fail "mount from fstab (m2) failed"
is_mounted "$base/m2" || fail "m2 not mounted"
(echo x >"$base/m2/new") 2>/dev/null && fail "ro from fstab not applied (write succeeded)"
"$fs" status "$base/m2" | grep -q noop || fail "status of m2 does not show noop"
mount -T "$base/fstab" "$base/m3" || fail "mount from fstab with config= (m3) failed"
is_mounted "$base/m3" || fail "m3 not mounted"
"$fs" status "$base/m3" | grep -q noop || fail "status of m3 does not show noop from the config"

# --- fsfilter status lists every volume ------------------------------------------
st=$("$fs" status) || fail "fsfilter status failed"
for m in m1 m2 m3; do
	grep -q "^Volume $base/$m " <<<"$st" || fail "fsfilter status does not list $m: $st"
done
js=$("$fs" status --json) || fail "status --json"
for m in m1 m2 m3; do
	grep -qF "\"$base/$m\"" <<<"$js" || fail "status --json does not list $m"
done

# --- unmounting: umount(8) and fsfilter unmount end the daemons ------------------
pid_of() { "$fs" status "$1" | sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' | head -n1; }
p1=$(pid_of "$base/m1")
[[ -n $p1 ]] || fail "no daemon pid for m1"
umount "$base/m1" || fail "umount(8) m1"
for _ in $(seq 100); do kill -0 "$p1" 2>/dev/null || break; sleep 0.05; done
kill -0 "$p1" 2>/dev/null && fail "daemon of m1 still running after umount"
for m in m2 m3; do
	p=$(pid_of "$base/$m")
	"$fs" unmount "$base/$m" || fail "fsfilter unmount $m"
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$p" 2>/dev/null && fail "daemon of $m still running after unmount"
	is_mounted "$base/$m" && fail "$m still mounted"
done
echo "mount_helper: ok"
