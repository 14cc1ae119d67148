#!/usr/bin/env bash
# --new-timeout: what the mount itself creates (file, directory, symlink,
# device node) keeps its name and attributes in the kernel that long, so a
# stat right after a create costs no LOOKUP or GETATTR; names the kernel
# only looked up keep --timeout. With --timeout 0 every walk over a
# looked-up name asks the daemon, which makes both sides countable in the
# trace view (-d). --new-timeout 0 (one lifetime for all) asks again for
# the new names too.
#
# Another process's drop_caches (the machine may be shared) empties the
# dentry cache for real; a step during which /proc/vmstat counted one is
# done again.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
drops() { awk '/^drop_(pagecache|slab) /{ n += $2 } END { print n + 0 }' /proc/vmstat; }
logline() { wc -l <"$IT_LOG"; }
# asked FROM TO NAME PARENT: LOOKUPs of NAME plus GETATTRs of anything but
# the root (nodeid 1) and PARENT (a node id), whose attributes the kernel
# asks for on every walk with --timeout 0, in trace lines FROM+1..TO
asked() {
	sed -n "$(($1 + 1)),$2p" "$IT_LOG" |
		awk -v n="name: \"$3\"," -v p="nodeid: $4," '
			/dispatch: lookup/ && index($0, n) { c++ }
			/dispatch: getattr/ && !/nodeid: 1,/ && !index($0, p) { c++ }
			END { print c + 0 }'
}
# getattr_id FROM: the node id of the last GETATTR (not the root's) after
# trace line FROM
getattr_id() {
	tail -n +"$(($1 + 1))" "$IT_LOG" | grep 'dispatch: getattr' |
		grep -v 'nodeid: 1,' | tail -n1 | sed 's/.*nodeid: \([0-9]*\),.*/\1/'
}

# volume NEW_TIMEOUT: mount; create one of each kind through it and one
# file directly in the lower directory (looked up once), then stat each
# twice, one after the other, counting into ASKED what the daemon was asked
# meanwhile. A dentry dropped from elsewhere comes back by LOOKUP, with
# --timeout: such a try is done again with new names.
declare -A ASKED
volume() {
	local d=$base/v$1 try d0 n m parent
	local -A from to
	mkdir -p "$d/lower" "$d/mnt"
	IT_LOG=$d/daemon.log
	it_mount "$d/lower" "$d/mnt" -d --timeout 0 --new-timeout "$1"
	for ((try = 0; try < 5; try++)); do
		d0=$(drops)
		m=$d/mnt/t$try
		mkdir "$m" || it_fail "mkdir t$try"
		echo x >"$d/lower/t$try/old" || it_fail "lower file"
		stat "$m/old" >/dev/null || it_fail "stat old"
		# empty: a write would drop the file's attributes
		: >"$m/file" || it_fail "create"
		mkdir "$m/dir" || it_fail "mkdir"
		ln -s file "$m/link" || it_fail "symlink"
		mkfifo "$m/fifo" || it_fail "mknod"
		from[.]=$(logline)
		stat "$m" >/dev/null || it_fail "stat t$try"
		sleep 0.2
		parent=$(getattr_id "${from[.]}")
		[[ -n $parent ]] || it_fail "no GETATTR of t$try in the trace"
		for n in file dir link fifo old; do
			from[$n]=$(logline)
			# -c %i: no readlink (which drops a link's atime)
			stat -c %i "$m/$n" >/dev/null || it_fail "stat $n"
			stat -c %i "$m/$n" >/dev/null || it_fail "stat $n again"
			sleep 0.2	# trace lines are written after the replies
			to[$n]=$(logline)
		done
		[[ $(drops) == "$d0" ]] && break
		it_log "caches dropped from elsewhere meanwhile; again"
	done
	((try < 5)) || it_skip "caches dropped from elsewhere all the time"
	for n in file dir link fifo old; do
		ASKED[$n]=$(asked "${from[$n]}" "${to[$n]}" "$n" "$parent")
	done
	it_unmount "$d/mnt"
}

volume 60
for n in file dir link fifo; do
	((ASKED[$n] == 0)) ||
		it_fail "--new-timeout 60: stat of a new $n asked the daemon ${ASKED[$n]} times"
done
((ASKED[old] >= 2)) ||
	it_fail "--timeout 0: stat of a looked-up name asked ${ASKED[old]} times, not every time"
it_log "--new-timeout 60: new names cached; looked-up name asked ${ASKED[old]} times"

volume 0
for n in file dir link fifo old; do
	((ASKED[$n] >= 2)) ||
		it_fail "--new-timeout 0: stat of $n asked ${ASKED[$n]} times, not every time"
done
it_log "--new-timeout 0: every stat asks"
