#!/usr/bin/env bash
# fsfilter mount -d, the trace view: with three filters stacked, an open
# goes down through every filter's pre-callback in altitude order (highest
# first), reaches the lower layer, and comes back up through the
# post-callbacks in reverse order; a filter that completes an operation
# (hello:deny on *.forbidden) stops the descent: nothing below it and no
# lower layer appear for that request, only the posts of the filters above.
. "$(dirname "$0")/lib.sh"
it_init
[[ -f ${HELLO_SO:-} ]] || it_fail "HELLO_SO not set"

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
printf 'plain\n' >"$base/lower/plain.txt"
IT_LOG=$base/trace.log
# -d implies -f (it_mount adds -f too)
it_mount "$base/lower" "$base/mnt" -d --filter noop@390000:trace \
	--filter "$HELLO_SO@380000:deny" --filter monitor@370000

cat "$base/mnt/plain.txt" >/dev/null || it_fail "reading plain.txt failed"
: >"$base/mnt/new.forbidden" 2>/dev/null && it_fail "hello:deny let new.forbidden be created"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"

# every line of the request whose dispatch line matches $1, in order
request() {
	local id
	id=$(awk -v pat="$1" 'index($0, pat) && /dispatch: / {
		sub(/^ *unique: /, ""); sub(/,.*/, ""); print; exit }' "$IT_LOG")
	[[ -n $id ]] || { tail -n 40 "$IT_LOG" >&2; it_fail "no dispatch line for $1"; }
	grep -E "^ *unique: $id," "$IT_LOG"
}
# the event sequence of a request: "pre:noop@390000 ... lower post:... done"
steps() {
	awk '{ for (i = 1; i <= NF; i++) {
		if ($i == "pre:" || $i == "post:") { printf "%s%s ", $i, $(i + 1); break }
		if ($i == "lower:") { printf "lower "; break }
		if ($i == "done:") { printf "done "; break } } }'
}

open_lines=$(request 'dispatch: open,') || exit 1
open_steps=$(steps <<<"$open_lines")
it_log "open: $open_steps"
want="pre:noop@390000 pre:hello@380000 pre:monitor@370000 lower "
[[ $open_steps == "$want"* ]] || {
	printf '%s\n' "$open_lines" >&2
	it_fail "open did not go down noop, hello, monitor, lower"
}
# up: the posts in reverse order of the pres that asked for them
ups=$(sed -e 's/.*lower //' -e 's/done.*//' <<<"$open_steps")
[[ $ups == *"post:hello@380000 post:noop@390000 " ]] || {
	printf '%s\n' "$open_lines" >&2
	it_fail "open did not come back up hello then noop: $ups"
}
case $ups in *monitor*) [[ $ups == "post:monitor@370000 post:hello"* ]] ||
	it_fail "monitor's post not first on the way up: $ups" ;;
esac
grep -qE 'unique: [0-9]+, success, outsize: ' <<<"$open_lines" ||
	it_fail "no libfuse-style reply line for the open"
grep -qE '^unique: [0-9]+, opcode: OPEN \(14\), nodeid: [0-9]+, insize: [0-9]+, pid: [0-9]+$' <<<"$open_lines" ||
	it_fail "no libfuse-style request line for the open"

# (the kernel's negative lookup of the name comes first: its own request)
create_lines=$(request 'dispatch: create, ') || exit 1
create_steps=$(steps <<<"$create_lines")
it_log "create: $create_steps"
[[ $create_steps == "pre:noop@390000 pre:hello@380000 post:noop@390000 done " ]] || {
	printf '%s\n' "$create_lines" >&2
	it_fail "hello's COMPLETE did not stop the descent"
}
grep -q 'pre:  hello@380000 COMPLETE, status: -13' <<<"$create_lines" ||
	it_fail "hello's pre status is not COMPLETE with -13"
grep -qE 'unique: [0-9]+, error: -13 \(Permission denied\), outsize: 16' <<<"$create_lines" ||
	it_fail "no error reply line for the create"
# one whole line per write: nothing but trace lines, daemon messages and
# the filters' own log lines in the log
bad=$(grep -vE '^(unique: |   unique: |   notify: |fsfilter|\[)' "$IT_LOG" | head -n 3)
[[ -z $bad ]] || it_fail "garbled trace lines: $bad"
it_log "ok: down in altitude order, up in reverse, COMPLETE stops the descent"
