#!/usr/bin/env bash
# Warm reads come from the kernel's page cache: a file read once through a
# volume whose reads go through the daemon (no passthrough, or a filter
# that sees data: crypt, monitor with a client, redirect) is read again,
# with read(2) and with mmap(2), without a single READ request, also after
# the attribute and entry timeouts have run out (the kernel then asks for
# the attributes again, and drops the file's pages if size or mtime differ
# from what it has: FOPEN_KEEP_CACHE alone is not enough, every LOOKUP and
# GETATTR answer must agree, e.g. crypt's plaintext sizes). A write through
# the volume is still seen by the next read (coherency).
#
# Counted in the daemon's trace view (-d): "opcode: READ (". Another
# process's drop_caches (the machine may be shared) empties the cache for
# real; a step during which /proc/vmstat counted one is done again.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
timeout=0.2	# short name/attribute lifetimes: the re-check happens here

# served FROM OPCODE: requests of OPCODE in the current log since line FROM
served() { tail -n +"$(($1 + 1))" "$IT_LOG" | grep -c "opcode: $2 (" ; }
logline() { wc -l <"$IT_LOG"; }
drops() { awk '/^drop_(pagecache|slab) /{ n += $2 } END { print n + 0 }' /proc/vmstat; }
mmap_read() {
	python3 -c '
import mmap, sys
with open(sys.argv[1], "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
    sys.stdout.buffer.write(m[:])' "$1"
}

# warm NAME FILE REF [WAIT]: FILE read once, then (after WAIT seconds) with
# read(2) and with mmap(2) equals REF and costs no READ request
warm() {
	local name=$1 f=$2 ref=$3 wait=${4:-0} try mark d0 n meta
	for ((try = 0; try < 5; try++)); do
		d0=$(drops)
		cmp "$f" "$ref" || it_fail "$name: first read differs"
		sleep 0.2	# its last trace lines, before the mark
		sleep "$wait"
		mark=$(logline)
		cmp "$f" "$ref" || it_fail "$name: warm read differs"
		mmap_read "$f" | cmp - "$ref" || it_fail "$name: warm mmap read differs"
		sleep 0.2	# the trace is written after the replies
		n=$(served "$mark" READ)
		meta=$(($(served "$mark" GETATTR) + $(served "$mark" LOOKUP)))
		[[ $(drops) == "$d0" ]] && break
		it_log "$name: caches dropped from elsewhere meanwhile; again"
	done
	((try < 5)) || it_skip "caches dropped from elsewhere all the time"
	((n == 0)) || it_fail "$name: $n READ requests for a warm read (page cache dropped)"
	# after the timeouts the kernel did ask again: the check was made
	if [[ $wait != 0 ]] && ((meta == 0)); then
		it_fail "$name: no LOOKUP or GETATTR after the attribute timeout"
	fi
	it_log "$name: warm read and mmap: 0 READ requests"
}

# check NAME FILE [SOURCE [ro]]: the warm checks on FILE (in the volume),
# its data written through the volume, or to SOURCE (the file FILE shows);
# ro: FILE cannot be written (a read-only redirect)
check() {
	local name=$1 f=$2 src=${3:-$2} ro=${4:-}
	head -c $((6 * 1024 * 1024 + 4321)) /dev/urandom >"$base/ref" || it_fail "ref"
	cp "$base/ref" "$src" || it_fail "$name: write"
	warm "$name" "$f" "$base/ref"
	warm "$name after the timeouts" "$f" "$base/ref" 0.5
	[[ -n $ro ]] && return 0
	# a write through the volume: the cache must not hide it
	printf 'written through the volume' |
		dd of="$base/ref" bs=1 seek=4097 conv=notrunc status=none
	printf 'written through the volume' |
		dd of="$f" bs=1 seek=4097 conv=notrunc status=none ||
		it_fail "$name: write through the volume"
	cmp "$f" "$base/ref" || it_fail "$name: a read after a write misses it"
	mmap_read "$f" | cmp - "$base/ref" ||
		it_fail "$name: an mmap read after a write misses it"
	warm "$name after a write" "$f" "$base/ref"
}

# volume NAME: a fresh lower and mount point, the daemon log in IT_LOG
volume() {
	d=$base/$1
	mkdir -p "$d/lower" "$d/mnt" "$d/backing"
	IT_LOG=$d/daemon.log
}

volume plain
it_mount "$d/lower" "$d/mnt" -d --no-passthrough --timeout "$timeout"
check "no filter, --no-passthrough" "$d/mnt/f" "$d/lower/f"
it_unmount "$d/mnt"

volume crypt
it_crypt_init "$d/lower" "$d/key"
it_mount "$d/lower" "$d/mnt" -d --timeout "$timeout" --filter "crypt:keyfile=$d/key"
check crypt "$d/mnt/f"
it_unmount "$d/mnt"

volume monitor
it_mount "$d/lower" "$d/mnt" -d --timeout "$timeout" --filter monitor
it_spy "$d/spy" "$d/mnt" --json --ops all
check "monitor with a client" "$d/mnt/f" "$d/lower/f"
it_bg_stop
it_unmount "$d/mnt"

volume redirect
it_mount "$d/lower" "$d/mnt" -d --no-passthrough --timeout "$timeout" \
	--filter "redirect:rule=/r/=>$d/backing"
check "redirect (read-only), --no-passthrough" "$d/mnt/r/f" "$d/backing/f" ro
it_unmount "$d/mnt"
exit 0
