#!/usr/bin/env bash
# The noop filter in trace mode sees the operations of a simple file life
# cycle, in order: lookup (miss), create, write, then read.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
IT_LOG=$base/trace.log
it_mount "$base/lower" "$base/mnt" --filter noop:trace

mark=$(wc -l <"$IT_LOG")
printf 'hello trace\n' >"$base/mnt/traced.txt"
# drop the page cache of the file so the read reaches the daemon
echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
sync
[[ $(dd if="$base/mnt/traced.txt" iflag=direct bs=4096 2>/dev/null) == "hello trace" ]] ||
	it_fail "read back through the volume failed"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"

tail -n +"$((mark + 1))" "$IT_LOG" >"$base/ops"
# Line number (1-based) of the first pre-operation trace line of operation $1
# (and, if given, naming $2). Trace lines look like
#   [noop@ALT] pre  OP  ino=N [name=NAME] [off=.. len=..] pid=P (COMM)
first() {
	awk -v op="$1" -v name="${2:-}" '
		{ for (i = 1; i < NF; i++) if ($i == "pre") break }
		i < NF && tolower($(i + 1)) == op && (name == "" || index($0, "name=" name)) { print NR; exit }' "$base/ops"
}
lookup=$(first lookup traced.txt)
create=$(first create traced.txt)
write=$(first write)
read=$(first read)
it_log "trace lines: lookup=$lookup create=$create write=$write read=$read"
if [[ -z $lookup || -z $create || -z $write || -z $read ]]; then
	it_log "trace after the mount:"
	head -n 50 "$base/ops" >&2
	it_fail "an operation is missing from the trace"
fi
((lookup < create && create < write && write < read)) || {
	head -n 50 "$base/ops" >&2
	it_fail "operations out of order in the trace"
}
it_log "ok: lookup < create < write < read"
