#!/usr/bin/env bash
# The fsfilter command line: refused mounts (exit 2, a message, nothing
# mounted), --version/--help, daemon mode, SIGTERM and kill -9 of a daemon.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir "$lower" "$mnt"
echo data >"$lower/file"
IT_LOG=$base/daemon.log

# expect_refused DESCRIPTION MOUNTPOINT ARGS...: fsfilter ARGS must exit 2
# with a message on stderr, and MOUNTPOINT must not be mounted afterwards.
expect_refused() {
	local what=$1 m=$2 rc
	shift 2
	"$FSFILTER" "$@" >"$base/out" 2>"$base/err" </dev/null
	rc=$?
	it_is_mounted "$m" && { "$FSFILTER" unmount "$m"; it_fail "$what: got mounted"; }
	((rc == 2)) || it_fail "$what: exit code $rc, expected 2 (stderr: $(cat "$base/err"))"
	[[ -s $base/err ]] || it_fail "$what: no message on stderr"
	it_log "ok: $what -> exit 2: $(head -n1 "$base/err")"
}

# --- refused before mounting --------------------------------------------
expect_refused "missing lower" "$mnt" mount "$base/nonexistent" "$mnt"
grep -q nonexistent "$base/err" || it_fail "missing lower: message does not name the path"

mkdir "$base/full"
touch "$base/full/x"
expect_refused "non-empty mount point" "$base/full" mount "$lower" "$base/full"

touch "$base/notdir"
expect_refused "mount point not a directory" "$base/notdir" mount "$lower" "$base/notdir"
expect_refused "lower is a file" "$mnt" mount "$base/notdir" "$mnt"
expect_refused "missing mount point" "$base/nothere" mount "$lower" "$base/nothere"

expect_refused "unknown filter" "$mnt" mount "$lower" "$mnt" --filter no-such-filter
grep -q no-such-filter "$base/err" || it_fail "unknown filter: message does not name it"

printf '[volume]\nbogus_key = 1\n' >"$base/bad.conf"
expect_refused "bad config (unknown key)" "$mnt" mount "$lower" "$mnt" --config "$base/bad.conf"
grep -q bogus_key "$base/err" || it_fail "bad config: message does not name the key"
printf '[volume]\nthreads = lots\n' >"$base/bad2.conf"
expect_refused "bad config (bad value)" "$mnt" mount "$lower" "$mnt" --config "$base/bad2.conf"
expect_refused "missing config file" "$mnt" mount "$lower" "$mnt" --config "$base/none.conf"
expect_refused "unknown option" "$mnt" mount "$lower" "$mnt" --no-such-option
expect_refused "no arguments to mount" "$mnt" mount

# --- --version, --help -----------------------------------------------------
out=$("$FSFILTER" --version) || it_fail "--version failed"
[[ $out =~ [0-9]+\.[0-9]+\.[0-9]+ ]] || it_fail "--version prints no version: $out"
it_log "ok: --version: $out"
"$FSFILTER" --help >"$base/help" 2>&1 || it_fail "--help failed"
grep -q mount "$base/help" && grep -q unmount "$base/help" || it_fail "--help does not mention mount/unmount"

# --- daemon mode: returns once mounted ------------------------------------
"$FSFILTER" mount "$lower" "$mnt" 2>>"$IT_LOG" </dev/null || it_fail "daemon mount failed"
IT_MOUNTS+=("$mnt")
it_note_mount "$mnt"
it_is_mounted "$mnt" || it_fail "mount returned before the volume was mounted"
[[ $(cat "$mnt/file") == data ]] || it_fail "daemon volume does not show the lower file"
grep -E " $mnt fuse" /proc/mounts | grep -q allow_other || it_fail "root mount without allow_other: $(grep " $mnt " /proc/mounts)"
# a second mount on the same mount point is refused (it is not empty now)
expect_refused "mount over a mounted volume" "$base/unused" mount "$lower" "$mnt"
it_unmount "$mnt"
[[ -e $mnt/file ]] && it_fail "file visible after unmount"
it_log "ok: daemon mount + unmount"

# --- SIGTERM to the daemon unmounts cleanly ----------------------------------
it_mount "$lower" "$mnt"
pid=$IT_PID
kill -TERM "$pid"
it_wait_pid "$pid" 10
rc=$?
((rc == 0)) || it_fail "daemon exited with $rc after SIGTERM"
it_is_mounted "$mnt" && it_fail "still mounted after SIGTERM"
grep -q " $mnt " /proc/mounts && it_fail "/proc/mounts still lists $mnt"
it_log "ok: SIGTERM unmounts"

# --- kill -9 leaves a dead mount that `fsfilter unmount` cleans ---------------
it_mount "$lower" "$mnt"
pid=$IT_PID
kill -KILL "$pid"
it_wait_pid "$pid" 10
it_is_mounted "$mnt" || it_fail "no dead mount after kill -9 (expected one to clean)"
stat "$mnt" >/dev/null 2>&1 && it_fail "stat of a dead mount succeeded"
"$FSFILTER" unmount "$mnt" 2>"$base/err" || it_fail "unmount of a dead mount failed: $(cat "$base/err")"
it_is_mounted "$mnt" && it_fail "dead mount still there after fsfilter unmount"
grep -q " $mnt " /proc/mounts && it_fail "/proc/mounts still lists $mnt"
[[ -d $mnt && ! -e $mnt/file ]] || it_fail "mount point not back to an empty directory"
it_log "ok: kill -9 + unmount cleans the dead mount"

# --- unmount of something that is not mounted is an error -------------------
"$FSFILTER" unmount "$mnt" 2>/dev/null && it_fail "unmount of an unmounted dir succeeded"

# --- --lazy unmount while a file is open ----------------------------------------
it_mount "$lower" "$mnt"
pid=$IT_PID
exec 7<"$mnt/file"
"$FSFILTER" unmount --lazy "$mnt" || it_fail "unmount --lazy failed"
it_is_mounted "$mnt" && it_fail "still mounted after unmount --lazy"
read -r line <&7
[[ $line == data ]] || it_fail "open file unreadable after lazy unmount"
exec 7<&-
it_wait_pid "$pid" 10 || it_fail "daemon exited with $? after lazy unmount"
it_log "ok: lazy unmount"
exit 0
