#!/usr/bin/env bash
# Resource bounds (docs/reliability.md): a tree of N files (BIGTREE_N,
# default 200000; the long run is 1000000) in 1000-file directories,
# walked and stat'ed through the volume. The lower layer keeps each inode
# as a file handle with a bounded cache of O_PATH fds, so the daemon's fds
# stay bounded while its RSS grows with what the kernel caches: measured
# after the walk; then the kernel is made
# to forget (drop_caches 2) and the fds and lower inodes must come back to
# the baseline (forget works). Bounds checked: fds stay under the daemon's
# RLIMIT_NOFILE, RSS under BIGTREE_RSS_MB (default 1 KiB per file + 64
# MiB). Prints one "bigtree:" line of figures for the docs.
. "$(dirname "$0")/lib.sh"
it_init

N=${BIGTREE_N:-200000}
PER=1000
it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir -p "$lower" "$mnt"
python3 - "$lower" "$N" "$PER" <<'PY' || it_fail "making the tree"
import os, sys
lower, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    if i % per == 0:
        d = f"{lower}/d{i // per:04d}"
        os.mkdir(d)
    os.close(os.open(f"{d}/f{i % per:04d}", os.O_CREAT | os.O_WRONLY, 0o644))
PY
it_mount "$lower" "$mnt"
pid=$IT_PID

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
vol() {
	"$FSFILTER" status "$mnt" --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['volume']['$1'])"
}
limit=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
rss0=$(rss) fds0=$(fds)

t0=$(date +%s%N)
seen=$(find "$mnt" -type f -printf '%s\n' 2>"$base/find.err" | wc -l)
t1=$(date +%s%N)
rss1=$(rss) fds1=$(fds) inodes1=$(vol lower_inodes)

# the kernel forgets dentries and inodes: FORGETs reach the daemon
for ((i = 0; i < 100; i++)); do
	sync
	echo 2 >/proc/sys/vm/drop_caches
	(($(vol lower_inodes) < 100)) && break
	sleep 0.2
done
rss2=$(rss) fds2=$(fds) inodes2=$(vol lower_inodes)

rss_mb=${BIGTREE_RSS_MB:-$((N / 1024 + 64))}
it_log "N=$N seen=$seen errors=$(wc -l <"$base/find.err") walk=$(((t1 - t0) / 1000000))ms nofile=$limit" \
	"before: rss=${rss0}kB fds=$fds0;" \
	"after walk: rss=${rss1}kB fds=$fds1 lower_inodes=$inodes1;" \
	"after drop_caches: rss=${rss2}kB fds=$fds2 lower_inodes=$inodes2"
((seen == N)) || it_fail "walk saw $seen files, not $N: $(sort "$base/find.err" | sed 's/.*: //' | uniq -c)"
((fds1 < limit)) || it_fail "fds $fds1 reached RLIMIT_NOFILE $limit"
((rss1 < rss_mb * 1024)) || it_fail "RSS ${rss1} kB over ${rss_mb} MiB"
((inodes2 < 100)) || it_fail "lower inodes not forgotten: $inodes2"
((fds2 < fds0 + 100)) || it_fail "fds not given back: $fds2 (baseline $fds0)"
it_unmount "$mnt"
it_log "ok"
