#!/usr/bin/env bash
# Resource bounds (docs/reliability.md): a tree of N files (--files N or
# BIGTREE_N, default 200000 in CI; the long run is 1000000) in 1000-file
# directories, walked and stat'ed through the volume (--walks W, default 1;
# from the second walk on, every node is looked up again after the kernel
# forgot it). The lower layer keeps each inode as a file handle with a
# bounded cache of O_PATH fds, so the daemon's fds stay bounded while its
# RSS grows with what the kernel caches. A sampler records the daemon's
# largest VmRSS and fd count during the walks; after each walk the kernel
# is made to forget (drop_caches 2) and the fds and lower inodes must come
# back to the baseline (forget works). Bounds checked: fds stay under the
# daemon's RLIMIT_NOFILE, RSS under BIGTREE_RSS_MB (default 1 KiB per file
# + 64 MiB). With --native, the same tree is walked natively first (the
# lower directory, kernel caches warm like the first walk's) for the time
# ratio. Prints "bigtree:" lines of figures for the docs.
#   tests/integration/bigtree.sh --files 1000000 --walks 2 --native
#   (FSFILTER=build/src/cli/fsfilter; the tree goes in a mktemp dir under
#   ${TMPDIR:-/tmp} and is removed at exit)
. "$(dirname "$0")/lib.sh"
it_init

N=${BIGTREE_N:-200000} WALKS=${BIGTREE_WALKS:-1} NATIVE=${BIGTREE_NATIVE:-0}
while (($#)); do
	case $1 in
	--files) N=$2 && shift 2 ;;
	--walks) WALKS=$2 && shift 2 ;;
	--native) NATIVE=1 && shift ;;
	*) it_fail "usage: bigtree.sh [--files N] [--walks W] [--native]" ;;
	esac
done
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

# native: the same walk on the lower directory (not in CI: time)
native_seen=- native_ms=0
if ((NATIVE)); then
	t0=$(date +%s%N)
	native_seen=$(find "$lower" -type f -printf '%s\n' | wc -l)
	native_ms=$((($(date +%s%N) - t0) / 1000000))
fi

# the daemon's largest RSS and fd count while it walks
sampler() {
	local r f mr=0 mf=0
	while kill -0 "$pid" 2>/dev/null; do
		r=$(rss) f=$(fds)
		((${r:-0} > mr)) && mr=$r
		((${f:-0} > mf)) && mf=$f
		echo "$mr $mf" >"$base/max.tmp" && mv "$base/max.tmp" "$base/max"
		sleep 0.3
	done
}
sampler &
IT_PIDS+=($!)

# the kernel forgets dentries and inodes: FORGETs reach the daemon
forget() {
	local i
	for ((i = 0; i < 100; i++)); do
		sync
		echo 2 >/proc/sys/vm/drop_caches
		(($(vol lower_inodes) < 100)) && break
		sleep 0.2
	done
}

walk_ms=() seen=0
for ((w = 1; w <= WALKS; w++)); do
	t0=$(date +%s%N)
	seen=$(find "$mnt" -type f -printf '%s\n' 2>"$base/find.err" | wc -l)
	t1=$(date +%s%N)
	walk_ms+=($(((t1 - t0) / 1000000)))
	rss1=$(rss) fds1=$(fds) inodes1=$(vol lower_inodes)
	forget
	rss2=$(rss) fds2=$(fds) inodes2=$(vol lower_inodes)
	it_log "walk $w: seen=$seen errors=$(wc -l <"$base/find.err") time=${walk_ms[-1]}ms" \
		"after walk: rss=${rss1}kB fds=$fds1 lower_inodes=$inodes1;" \
		"after drop_caches: rss=${rss2}kB fds=$fds2 lower_inodes=$inodes2"
	((seen == N)) || break
	((inodes2 < 100)) || break
done
sleep 0.4	# one more sample
max_rss=0 max_fds=0
[[ -s $base/max ]] && read -r max_rss max_fds <"$base/max"
((rss1 > max_rss)) && max_rss=$rss1
((fds1 > max_fds)) && max_fds=$fds1

rss_mb=${BIGTREE_RSS_MB:-$((N / 1024 + 64))}
it_log "N=$N native_seen=$native_seen native=${native_ms}ms walks=${walk_ms[*]}ms" \
	"ratio(walk1/native)=$(awk -v a="${walk_ms[0]}" -v b="$native_ms" 'BEGIN { if (b) printf "%.1f", a / b; else printf "-" }')" \
	"nofile=$limit before: rss=${rss0}kB fds=$fds0;" \
	"max during walks: rss=${max_rss}kB fds=$max_fds;" \
	"after the last drop_caches: rss=${rss2}kB fds=$fds2 lower_inodes=$inodes2"
((seen == N)) || it_fail "walk saw $seen files, not $N: $(sort "$base/find.err" | sed 's/.*: //' | uniq -c)"
((max_fds < limit)) || it_fail "fds $max_fds reached RLIMIT_NOFILE $limit"
((max_rss < rss_mb * 1024)) || it_fail "RSS ${max_rss} kB over ${rss_mb} MiB"
((inodes2 < 100)) || it_fail "lower inodes not forgotten: $inodes2"
((fds2 < fds0 + 100)) || it_fail "fds not given back: $fds2 (baseline $fds0)"
it_unmount "$mnt"
it_log "ok"
