#!/usr/bin/env bash
# The daemon's fds stay bounded however many inodes the kernel caches: the
# lower layer keeps inodes as file handles and at most min(RLIMIT_NOFILE
# soft / 2, 8192) unused O_PATH fds (src/lower/fdcache.c). A metadata storm
# (bench/mdstorm: create, stat, unlink N files in one directory; N =
# MANYFILES_N, default 30000, more than this machine's hard limit of 20000
# that one-fd-per-inode hit EMFILE at) must succeed, and the daemon's fd
# count, sampled while it runs, must stay under that bound plus a margin.
# Then every operation on evicted nodes: a volume with an 8-entry cache
# ($FSFILTER_FD_CACHE) must pass opcompare (native vs volume, as root) and
# a smaller storm with its fds under 8 + the margin.
# Usage: manyfiles.sh MDSTORM
. "$(dirname "$0")/lib.sh"
it_init

MDSTORM=${1:-}
[[ -x $MDSTORM ]] || it_fail "mdstorm binary not given or not executable: $MDSTORM"
N=${MANYFILES_N:-30000}
MARGIN=256 # the front end's and the control channel's own fds, open files

it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir -p "$lower/storm" "$mnt"
it_mount "$lower" "$mnt"
pid=$IT_PID

fds() { ls "/proc/$pid/fd" 2>/dev/null | wc -l; }
# storm DIR N OUT: mdstorm of N files in DIR, its output to OUT; the
# daemon's highest fd count while it runs in max; mdstorm's exit status
storm() {
	"$MDSTORM" "$1" "$2" >"$3" 2>&1 &
	local s=$! f
	IT_PIDS+=("$s")
	max=$(fds)
	while kill -0 "$s" 2>/dev/null; do
		f=$(fds)
		((f > max)) && max=$f
		sleep 0.1
	done
	wait "$s"
}
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
bound=$((soft / 2 < 8192 ? soft / 2 : 8192))
fds0=$(fds)

storm "$mnt/storm" "$N" "$base/storm.out"
rc=$?
fds1=$(fds)
it_log "N=$N nofile=$soft cache_bound=$bound fds: before=$fds0 max=$max after=$fds1;" \
	"mdstorm: $(cat "$base/storm.out")"
((rc == 0)) || it_fail "mdstorm failed ($rc): $(cat "$base/storm.out")"
grep -qi 'too many open files' "$base/storm.out" "$IT_LOG" &&
	it_fail "EMFILE seen"
((max < bound + MARGIN)) || it_fail "daemon fds reached $max (bound $bound + $MARGIN)"
left=$(find "$lower/storm" -mindepth 1 | wc -l)
((left == 0)) || it_fail "$left files left in the lower directory"
it_unmount "$mnt"

[[ -x ${OPCOMPARE:-} ]] || it_fail "OPCOMPARE not set"
mkdir -p "$base/native" "$base/lower2/storm" "$base/mnt2"
chmod 755 "$base/native" "$base/lower2" "$base/mnt2"
FSFILTER_FD_CACHE=8 it_mount "$base/lower2" "$base/mnt2"
pid=$IT_PID
"$OPCOMPARE" "$base/native" "$base/mnt2" >"$base/opc.out" 2>&1 ||
	it_fail "opcompare with an 8-entry fd cache: $(tail -20 "$base/opc.out")"
fds0=$(fds)
storm "$base/mnt2/storm" 3000 "$base/storm2.out" || it_fail "mdstorm (8-entry cache) failed: $(cat "$base/storm2.out")"
it_log "8-entry cache: opcompare ok; 3000 files: fds before=$fds0 max=$max;" \
	"mdstorm: $(cat "$base/storm2.out")"
((max < fds0 + 8 + MARGIN)) || it_fail "daemon fds reached $max with an 8-entry cache"
it_unmount "$base/mnt2"
it_log "ok"
