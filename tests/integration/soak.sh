#!/usr/bin/env bash
# Soak: one volume with monitor (a verdict client that allows everything
# after a random delay of 0-5 ms), redirect (a prefix tree and a copy-on-write file) and
# crypt stacked; for SOAK_DURATION seconds (default 40; scripts/soak runs
# it longer) a mixed workload (soak_work.py: writers with fsync checked
# against a model, readers of redirected files checked against the backing,
# directory churn, mmap writes checked through read, appends to the
# copy-on-write file that materialise it again after each unlink) while rules are added
# and removed through `fsfilter redirect` and `fsfilter status` and
# detach/attach of a noop filter poll the daemon. At the end: no worker
# error, the files the writers left match through a remount, the daemon's
# RSS and fd count at the end within a bound of those after warm-up
# (printed), and a clean unmount.
. "$(dirname "$0")/lib.sh"
it_init
DUR=${SOAK_DURATION:-40}
[[ -x ${MONTEST:-} ]] || it_fail "MONTEST not set"
WORK=$(dirname "$0")/soak_work.py
command -v python3 >/dev/null || it_skip "python3 missing"

it_tmpdir base
L=$base/lower M=$base/mnt B=$base/back
mkdir -p "$L" "$M" "$B/tree"
IT_LOG=$base/daemon.log
for i in $(seq 20); do head -c $((RANDOM * 8)) /dev/urandom >"$B/tree/t$i"; done
printf 'cow backing\n' >"$B/cow"
for i in $(seq 5); do printf 'extra %d\n' "$i" >"$B/extra$i"; done
it_crypt_init "$L" "$base/key"
it_mount "$L" "$M" --filter monitor \
	--filter "redirect:rule=/r/=>$B/tree;rule=/cow.txt=>$B/cow,policy=cow" \
	--filter "crypt:keyfile=$base/key"
DAEMON=$IT_PID

it_monitor_client "$base/verdict" "$M" --ops open,create --random-sleep-ms 5
VERDICT=$IT_BG

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON/status"; }
fds() { ls "/proc/$DAEMON/fd" | wc -l; }

WPIDS=()
for k in writer:1 writer:2 writer:3 reader:1 reader:2 dirs:1 mmap:1 cow:1; do
	it_bg python3 "$WORK" "${k%%:*}" "$M" "$B" "$DUR" "${k##*:}" >>"$base/work.out" 2>>"$base/work.err"
	WPIDS+=("$IT_BG")
done

# control-plane churn until the workers are done
warm=$((DUR / 10 > 5 ? DUR / 10 : 5))
start=$SECONDS rss0= fds0= rounds=0 cerr=0
while (( SECONDS - start < DUR )); do
	i=$((rounds % 5 + 1))
	"$FSFILTER" redirect add "$M" "/extra$i=>$B/extra$i" >/dev/null 2>>"$base/ctl.err" || ((cerr++))
	"$FSFILTER" status --json "$M" >/dev/null 2>>"$base/ctl.err" || ((cerr++))
	if ((rounds % 3 == 0)); then
		"$FSFILTER" attach "$M" noop >/dev/null 2>>"$base/ctl.err" || ((cerr++))
		"$FSFILTER" detach "$M" noop >/dev/null 2>>"$base/ctl.err" || ((cerr++))
	fi
	[[ $(cat "$M/extra$i" 2>/dev/null) == "extra $i" ]] || { ((cerr++)); echo "extra$i content" >>"$base/ctl.err"; }
	"$FSFILTER" redirect remove "$M" "/extra$i" >/dev/null 2>>"$base/ctl.err" || ((cerr++))
	if [[ -z $rss0 ]] && (( SECONDS - start >= warm )); then
		rss0=$(rss) fds0=$(fds)
	fi
	rounds=$((rounds + 1))
	sleep 1
done
fail=0
for p in "${WPIDS[@]}"; do
	it_wait_pid "$p" 120 || fail=1
done
rss1=$(rss) fds1=$(fds)
cat "$base/work.out" >&2
[[ -n $rss0 ]] || rss0=$rss1 fds0=$fds1
estale=$(awk '/ estale / { n += $NF } END { print n + 0 }' "$base/work.out")
ops=$(awk '/ ops / { n += $5 } END { print n + 0 }' "$base/work.out")
it_log "daemon after warm-up: RSS ${rss0} KiB, ${fds0} fds; at the end: RSS ${rss1} KiB, ${fds1} fds; $rounds control rounds"
echo "SOAK duration=${DUR}s ops=$ops known_estale=$estale rounds=$rounds rss_warm_kib=$rss0 rss_end_kib=$rss1 fds_warm=$fds0 fds_end=$fds1" >&2
grep -a 'known:' "$base/work.err" | head -n 5 >&2
((fail)) && { grep -av 'known:' "$base/work.err" | head -n 20 >&2; it_fail "a worker failed"; }
((cerr)) && { head -n 20 "$base/ctl.err" >&2; it_fail "$cerr control-plane errors"; }
kill -0 "$VERDICT" 2>/dev/null || it_fail "the verdict client died"
# bounds: the fd cache and page caches settle after warm-up; growth beyond
# SOAK_RSS_SLACK_MB (64 MiB; more under ASan, whose quarantine is not the
# daemon's) + 50% or 64 fds would be a leak
slack=$(( ${SOAK_RSS_SLACK_MB:-64} * 1024 ))
(( rss1 <= rss0 * 3 / 2 + slack )) || it_fail "RSS grew from $rss0 to $rss1 KiB"
(( fds1 <= fds0 + 64 )) || it_fail "fds grew from $fds0 to $fds1"
kill "$VERDICT" 2>/dev/null
# what the writers left, through a remount (crypt authenticates it all)
( cd "$M" && find . -path ./r -prune -o -type f ! -name cow.txt ! -name "extra*" -print0 | sort -z | xargs -0 sha256sum ) >"$base/before" || it_fail "hash before"
it_unmount "$M"
it_wait_pid "$DAEMON" 20 || it_fail "daemon exit status"
it_mount "$L" "$M" --filter "crypt:keyfile=$base/key"
( cd "$M" && find . -path ./r -prune -o -type f ! -name cow.txt ! -name "extra*" -print0 | sort -z | xargs -0 sha256sum ) >"$base/after" || it_fail "hash after"
diff "$base/before" "$base/after" >&2 || it_fail "content changed across the remount"
it_unmount "$M"
it_log "PASS"
