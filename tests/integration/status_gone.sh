#!/usr/bin/env bash
# fsfilter status (every volume) skips a volume that is unmounted between
# reading the mount table and connecting to it, and still exits 0; a volume
# that is still mounted but fails is reported (exit 1).
#
# Deterministic, no sleeps: in a private mount namespace (so only this
# test's volumes are listed), volume A's daemon is stopped (SIGSTOP), so
# `fsfilter status` blocks in A's control request, after it has read the
# mount table; then B is unmounted, A continued.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init
it_forget_mounts

it_tmpdir base
it_two_volumes "$base"
pid_a=$IT_PID_A pid_b=$IT_PID_B
n=$("$FSFILTER" status --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') ||
	it_fail "status --json of both"
((n == 2)) || it_fail "status lists $n volumes, expected this test's 2"

kill -STOP "$pid_a"
# --timeout-ctl 0: wait for A however long (the stop is this test's way of
# holding status between the table and the connection; by default a daemon
# that does not answer in 5 s is listed as not responding: status_stopped)
"$FSFILTER" status --timeout-ctl 0 >"$base/status.out" 2>"$base/status.err" &
st=$!
# wait until it talks to A (a socket among its fds): the table is read
for ((i = 0; i < 400; i++)); do
	ls -l "/proc/$st/fd" 2>/dev/null | grep -q 'socket:' && break
	kill -0 "$st" 2>/dev/null || break
	sleep 0.05
done
ls -l "/proc/$st/fd" 2>/dev/null | grep -q 'socket:' || {
	kill -CONT "$pid_a"
	it_fail "status never connected to volume A"
}
umount -l "$base/mb" || { kill -CONT "$pid_a"; it_fail "umount B"; }
kill -CONT "$pid_a"
wait "$st"
rc=$?
((rc == 0)) || it_fail "status exited $rc with B gone meanwhile: $(cat "$base/status.err")"
grep -q "^Volume $base/ma " "$base/status.out" || it_fail "A missing: $(cat "$base/status.out")"
grep -q "$base/mb" "$base/status.out" "$base/status.err" && it_fail "B (gone) shown"
it_wait_pid "$pid_b" 10

# a volume still mounted whose daemon is dead is reported: exit 1
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null
"$FSFILTER" status >/dev/null 2>"$base/dead.err"
rc=$?
((rc == 1)) || it_fail "status with a dead mount exited $rc, expected 1"
grep -qF "$base/ma" "$base/dead.err" || it_fail "dead mount not reported: $(cat "$base/dead.err")"
"$FSFILTER" unmount "$base/ma" || it_fail "unmount of the dead mount"
it_log "ok"
