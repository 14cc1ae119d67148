#!/usr/bin/env bash
# The fast path on a kernel that refuses an O_PATH backing fd (before
# fget_raw in FUSE_DEV_IOC_BACKING_OPEN, ~6.12): a read-only open, whose
# lower fd is deferred, registers the node's O_PATH fd; on EBADF the front
# end reopens it readable through /proc and registers that instead
# (passthrough.c, backing_open_reopened), logged once. The refusal is
# simulated ($FSFILTER_TEST_PT_REFUSE_OPATH: the daemon answers EBADF for
# an O_PATH fd instead of asking the kernel). Checked: the data, the fast
# path still taken (the daemon serves no READ), the notice logged once,
# and no fd kept per file (the reopened fd is closed once registered),
# also for a file unlinked while open.
. "$(dirname "$0")/lib.sh"
it_init

n=40
it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir "$lower" "$mnt"
for ((i = 0; i < n; i++)); do
	head -c $((4096 + i * 1000)) /dev/urandom >"$lower/f$i"
done
printf 'unlinked data\n' >"$lower/gone"

export FSFILTER_TEST_PT_REFUSE_OPATH=1
it_mount "$lower" "$mnt" -d
unset FSFILTER_TEST_PT_REFUSE_OPATH
it_require_passthrough

# requests of opcode $2 served since line $1 of the log
served() {
	tail -n +"$(($1 + 1))" "$IT_LOG" | grep -c "^unique: [0-9]*, opcode: $2 " || true
}

fds() { ls "/proc/$IT_PID/fd" | wc -l; }

cat "$mnt/f0" >/dev/null # the first one: the refusal, logged
grep -q "passthrough refused by the kernel" "$IT_LOG" &&
	it_skip "the kernel refuses passthrough (EPERM)"
mark=$(wc -l <"$IT_LOG")
for ((i = 0; i < n; i++)); do
	cmp "$lower/f$i" "$mnt/f$i" || it_fail "f$i reads back different"
done
# again: the nodes (and their cached O_PATH fds) exist now, so any fd
# more is one a registration kept
before=$(fds)
for ((i = 0; i < n; i++)); do
	cmp "$lower/f$i" "$mnt/f$i" || it_fail "f$i reads back different the second time"
done
# unlinked between open and read: the O_PATH fd still names the inode
exec 3<"$mnt/gone"
rm "$mnt/gone"
[[ $(cat <&3) == "unlinked data" ]] || it_fail "the unlinked file does not read back"
exec 3<&-
sleep 0.3 # the trace lines of the last requests
after=$(fds)
reads=$(served "$mark" READ)
notices=$(grep -c "the kernel takes no O_PATH backing file" "$IT_LOG")
it_log "$n files twice and an unlinked one: $reads READ served, fds $before -> $after, $notices notice(s)"
((notices == 1)) || it_fail "the O_PATH refusal was logged $notices times (expected once)"
((reads == 0)) || it_fail "the daemon served $reads READ: the reopened backing file was not used"
grep -q "no passthrough for inode" "$IT_LOG" && it_fail "a file left the fast path: $(grep 'no passthrough for inode' "$IT_LOG" | head -1)"
((after <= before + 2)) || it_fail "the daemon keeps fds per file read: $before -> $after on the second round"
it_unmount "$mnt"
