#!/usr/bin/env bash
# The monitor filter, mounted: monitor.sh CASE, CASE one of
#   events    events of each operation with the right fields (fsfilter spy --json)
#   filters   process-name and path filtering
#   verdict   allow/deny of opens (examples/scanner), timeout default both
#             ways, a verdict client killed while 32 opens wait, self-exclusion
#   paging    mmap-heavy reads with a verdict client that sleeps
#   drops     dropped-event accounting with a client that never reads
#   redirect  monitor stacked above redirect: the events of reads of a
#             redirected (lower and virtual) file name the right path and
#             process and count the bytes the backing file has, and the
#             reads return the backing content
# Environment: FSFILTER, MONTEST, SCANNER (set by CTest).
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${MONTEST:-} && -x ${SCANNER:-} ]] || it_fail "MONTEST/SCANNER not set"
CASE=${1:?case}
IT_NAME=monitor_$CASE

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
L=$base/lower M=$base/mnt
IT_LOG=$base/daemon.log

# spy_start OUT ARGS...: a JSON spy of $M (it_spy), its PID in SPY
spy_start() {
	local out=$1
	shift
	it_spy "$out" "$M" --json "$@"
	SPY=$IT_BG
}
# spy_stop OUT: the spy SPY, once the last events are through
spy_stop() {
	sleep 0.3
	it_spy_stop "$SPY" "$1"
}

# has OUT FIELD... : a JSON line containing every fixed string given
has() {
	local out=$1 line
	shift
	while IFS= read -r line; do
		local ok=1 f
		for f in "$@"; do [[ $line == *"$f"* ]] || { ok=0; break; }; done
		((ok)) && return 0
	done <"$out"
	return 1
}
need() {
	local out=$1
	has "$@" || { head -n 60 "$out" >&2; it_fail "no event with: ${*:2}"; }
}

case_events() {
	it_mount "$L" "$M" --filter monitor
	printf 'hello\n' >"$L/old.txt"
	spy_start "$base/ev" --ops all --pre --post
	printf '0123456789' >"$M/new.txt"
	dd if="$M/new.txt" of=/dev/null bs=4096 iflag=direct 2>/dev/null
	mkdir "$M/dir"
	mv "$M/new.txt" "$M/dir/moved.txt"
	truncate -s 3 "$M/dir/moved.txt"
	ln "$M/dir/moved.txt" "$M/hard"
	ln -s target "$M/sym"
	setfattr -n user.k -v v "$M/old.txt" 2>/dev/null || true
	cat "$M/old.txt" >/dev/null
	rm "$M/hard" "$M/sym"
	mv "$M/dir" "$M/dir2"
	cat "$M/dir2/moved.txt" >/dev/null
	rm -r "$M/dir2"
	cat "$M/absent" 2>/dev/null
	spy_stop "$base/ev"
	local me=$$ ev=$base/ev
	need "$ev" '"phase":"pre","op":"create"' '"path":"/new.txt"'
	need "$ev" '"phase":"post","op":"create"' '"path":"/new.txt"' '"result":0' "\"pid\":$me" '"comm":"bash"'
	need "$ev" '"phase":"post","op":"write"' '"path":"/new.txt"' '"offset":0,"length":10' '"information":10'
	need "$ev" '"phase":"post","op":"read"' '"comm":"dd"' '"path":"/new.txt"' '"offset":0,"length":4096' '"information":10'
	need "$ev" '"phase":"post","op":"release"' '"path":"/new.txt"'
	# release comes with no requestor: it names the process that opened
	need "$ev" '"phase":"post","op":"release"' '"comm":"cat"' '"path":"/old.txt"'
	need "$ev" '"op":"mkdir"' '"path":"/dir"' '"result":0'
	need "$ev" '"op":"rename"' '"path":"/new.txt"' '"path2":"/dir/moved.txt"'
	need "$ev" '"op":"setattr"' '"path":"/dir/moved.txt"' '"length":3'
	need "$ev" '"op":"link"' '"path":"/dir/moved.txt"' '"path2":"/hard"'
	need "$ev" '"op":"symlink"' '"path":"/sym"' '"path2":"target"'
	need "$ev" '"op":"open"' '"path":"/old.txt"' '"comm":"cat"' '"result":0'
	need "$ev" '"op":"unlink"' '"path":"/hard"'
	need "$ev" '"op":"rename"' '"path":"/dir"' '"path2":"/dir2"'
	# after the directory rename, names below it follow
	need "$ev" '"op":"open"' '"path":"/dir2/moved.txt"'
	need "$ev" '"op":"rmdir"' '"path":"/dir2"'
	has "$ev" '"phase":"post","op":"lookup"' '"path":"/absent"' && it_fail "a lookup miss was reported without --misses"
	# every post has a duration, sequence numbers increase
	grep '"phase":"post"' "$ev" | grep -vq '"duration_ns":' && it_fail "post event without duration"
	awk -F'"seq":' '{ split($2, a, ","); if (a[1] + 0 <= last) bad = 1; last = a[1] + 0 } END { exit bad }' "$ev" ||
		it_fail "sequence numbers do not increase"
	# the human format has the columns
	it_spy "$base/human" "$M" --ops open --count 1
	SPY=$IT_BG
	cat "$M/old.txt" >/dev/null
	it_wait_pid "$SPY" 10 || it_fail "spy --count 1 failed"
	it_bg_forget "$SPY"
	grep -q 'PROCESS' "$base/human" && grep -Eq 'cat +[0-9]+ post open +/old.txt +SUCCESS' "$base/human" ||
		{ cat "$base/human" >&2; it_fail "human columns wrong"; }
	it_log "ok: events"
}

case_filters() {
	it_mount "$L" "$M" --filter monitor
	mkdir -p "$L/sub/deep" "$L/other"
	echo a >"$L/sub/a.txt"
	echo b >"$L/sub/b.log"
	echo c >"$L/sub/deep/c.txt"
	echo d >"$L/other/d.txt"
	cp /bin/cat "$base/mycat"
	spy_start "$base/comm" --ops open --comm mycat
	SPY_COMM=$SPY
	spy_start "$base/glob" --ops open --path '/sub/*.txt'
	SPY_GLOB=$SPY
	spy_start "$base/prefix" --ops open --path /sub
	SPY_PREFIX=$SPY
	spy_start "$base/pid" --ops open --pid $$
	SPY_PID=$SPY
	for f in sub/a.txt sub/b.log sub/deep/c.txt other/d.txt; do
		"$base/mycat" "$M/$f" >/dev/null
		cat "$M/$f" >/dev/null
	done
	spy_stop "$base/pid"
	SPY=$SPY_PREFIX spy_stop "$base/prefix"
	SPY=$SPY_GLOB spy_stop "$base/glob"
	SPY=$SPY_COMM spy_stop "$base/comm"
	[[ $(grep -c '"op":"open"' "$base/comm") == 4 ]] || { cat "$base/comm" >&2; it_fail "--comm mycat: expected 4 opens"; }
	grep -q '"comm":"cat"' "$base/comm" && it_fail "--comm mycat showed cat"
	[[ $(grep -c '"op":"open"' "$base/glob") == 2 ]] || { cat "$base/glob" >&2; it_fail "--path /sub/*.txt: expected 2 opens"; }
	grep -q '/sub/deep/c.txt\|b.log' "$base/glob" && it_fail "glob * crossed / or matched .log"
	[[ $(grep -c '"op":"open"' "$base/prefix") == 6 ]] || { cat "$base/prefix" >&2; it_fail "--path /sub: expected 6 opens"; }
	grep -q '/other/' "$base/prefix" && it_fail "prefix matched /other"
	# cat and mycat are children, not this shell
	grep -q '"op":"open"' "$base/pid" && it_fail "--pid \$\$ showed other processes"
	it_log "ok: filters"
}

stat_of() { "$MONTEST" stats "$M" | awk -v k="$1" '$1 == k { print $2 }'; }
# fig KEY: a monitor figure of `fsfilter status --json` (it_figure)
fig() { it_figure "$M" monitor "$1"; }

case_verdict() {
	echo clean >"$L/clean.txt"
	printf 'xx EICAR-MARK yy' >"$L/bad.txt"
	head -c 3000000 /dev/zero >"$L/big.bin"
	printf 'EICAR-MARK' >>"$L/big.bin"
	it_mount "$L" "$M" --filter monitor:verdict_timeout_ms=3000
	# allow/deny through the scanner example, which reads the lower dir
	it_bg "$SCANNER" "$M" "$L" EICAR-MARK >"$base/scan" 2>&1
	it_wait_line "$base/scan" ready || it_fail "scanner did not start"
	cat "$M/clean.txt" >/dev/null || it_fail "clean file denied"
	cat "$M/bad.txt" >/dev/null 2>&1 && it_fail "infected file allowed"
	cat "$M/big.bin" >/dev/null 2>&1 && it_fail "string at 3 MB not found"
	local err
	err=$(cat "$M/bad.txt" 2>&1 >/dev/null)
	[[ $err == *"Permission denied"* ]] || it_fail "deny gave '$err', expected EACCES"
	echo new >"$M/created.txt" || it_fail "create denied"
	[[ $(fig verdicts.allowed) -ge 2 && $(fig verdicts.denied) -ge 3 ]] ||
		it_fail "status: allowed $(fig verdicts.allowed), denied $(fig verdicts.denied)"
	it_bg_stop
	it_unmount "$M"
	it_wait_pid "$IT_PID" 10

	# timeout, default deny then allow; counted
	local t0 t1 mode
	for mode in deny allow; do
		it_mount "$L" "$M" --filter "monitor:verdict_timeout_ms=300,default=$mode"
		it_monitor_client "$base/v.$mode" "$M" --sleep-ms 5000
		t0=$(date +%s%N)
		if cat "$M/clean.txt" >/dev/null 2>&1; then r=allow; else r=deny; fi
		t1=$(date +%s%N)
		[[ $r == "$mode" ]] || it_fail "timeout with default=$mode gave $r"
		(((t1 - t0) / 1000000 >= 250 && (t1 - t0) / 1000000 < 3000)) ||
			it_fail "default=$mode after $(((t1 - t0) / 1000000)) ms, expected ~300"
		[[ $(stat_of timeouts) -ge 1 ]] || it_fail "timeout not counted"
		[[ $(fig verdicts.timed_out) -ge 1 && $(fig clients) == 1 ]] ||
			it_fail "status: timed_out $(fig verdicts.timed_out), clients $(fig clients)"
		it_bg_stop
		it_unmount "$M"
		it_wait_pid "$IT_PID" 10
	done
	it_log "ok: timeouts (deny, allow)"

	# 32 opens wait on a client that never answers; kill -9 it: all go at once
	it_mount "$L" "$M" --filter monitor:verdict_timeout_ms=60000,max_clients=40
	for i in $(seq 32); do echo "$i" >"$L/f$i"; done
	it_monitor_client "$base/v.kill" "$M" --sleep-ms 600000
	local vc=$IT_BG
	local pids=()
	for i in $(seq 32); do
		cat "$M/f$i" >"$base/out$i" 2>&1 &
		pids+=($!)
	done
	for ((i = 0; i < 200; i++)); do
		[[ $(stat_of requests) -ge 32 ]] && break
		sleep 0.05
	done
	[[ $(stat_of requests) -ge 32 ]] || it_fail "32 opens did not reach the verdict client"
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || it_fail "an open did not wait"; done
	t0=$(date +%s%N)
	kill -KILL "$vc"
	for p in "${pids[@]}"; do
		it_wait_pid "$p" 5 || it_fail "an open failed after the client died"
	done
	t1=$(date +%s%N)
	it_log "32 waiting opens released $(((t1 - t0) / 1000000)) ms after kill -9"
	(((t1 - t0) / 1000000 < 2000)) || it_fail "release took $(((t1 - t0) / 1000000)) ms"
	[[ $(cat "$base/out7") == 7 ]] || it_fail "released open read wrong data"
	[[ $(stat_of released) -ge 32 ]] || it_fail "released not counted"
	# the same counts in `fsfilter status`
	[[ $(fig verdicts.released) -ge 32 && $(fig verdicts.defaulted) -ge 32 ]] ||
		it_fail "status: released $(fig verdicts.released), defaulted $(fig verdicts.defaulted)"
	it_bg_stop

	# self-exclusion: the client opens a file in the volume (from another
	# thread) before answering; it must not wait for itself
	it_monitor_client "$base/v.self" "$M" --open "$M/f1"
	t0=$(date +%s%N)
	timeout 20 cat "$M/f2" >/dev/null || it_fail "open with a self-opening client failed"
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 3000)) || it_fail "self-exclusion: open took $(((t1 - t0) / 1000000)) ms"
	[[ $(stat_of excluded) -ge 1 ]] || it_fail "the client's own open was not excluded"
	grep -q "req open /f1" "$base/v.self" && it_fail "the client was asked about its own open"
	it_bg_stop

	# a waiting open whose process is killed: FUSE INTERRUPT reaches the
	# cancel routine, the operation completes (EINTR) and is counted
	it_monitor_client "$base/v.intr" "$M" --sleep-ms 600000
	cat "$M/f3" >/dev/null 2>&1 &
	local victim=$!
	it_wait_line "$base/v.intr" "req open /f3" || it_fail "open did not reach the client"
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null
	for ((i = 0; i < 40; i++)); do
		[[ $(stat_of cancelled) -ge 1 ]] && break
		sleep 0.05
	done
	[[ $(stat_of cancelled) -ge 1 ]] || it_fail "interrupted open not cancelled"
	it_bg_stop

	# long verdicts: extend past the timeout, bounded by max_verdict_ms
	it_unmount "$M"
	it_wait_pid "$IT_PID" 10
	it_mount "$L" "$M" --filter monitor:verdict_timeout_ms=300,max_verdict_ms=1500,default=deny
	it_monitor_client "$base/v.ext" "$M" --extend-ms 800 --sleep-ms 600
	cat "$M/clean.txt" >/dev/null || it_fail "extended verdict (600 ms > timeout 300) did not allow"
	it_bg_stop
	it_monitor_client "$base/v.ext2" "$M" --extend-ms 10000 --sleep-ms 4000
	t0=$(date +%s%N)
	cat "$M/clean.txt" >/dev/null 2>&1 && it_fail "extension past max_verdict_ms allowed"
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 2500)) || it_fail "max_verdict_ms not enforced: $(((t1 - t0) / 1000000)) ms"
	it_log "ok: verdicts"
}

case_paging() {
	head -c $((32 << 20)) /dev/urandom >"$L/big"
	it_mount "$L" "$M" --filter monitor:verdict_timeout_ms=10000
	# verdicts on reads, the client sleeps 2 s per request: paging reads
	# (every mmap fault) must not wait for it
	it_monitor_client "$base/v" "$M" --ops read --sleep-ms 2000
	local ms
	ms=$("$MONTEST" mmapread "$M/big") || it_fail "mmapread"
	it_log "mmap read of 32 MiB with a sleeping verdict client: $ms ms"
	((ms < 5000)) || it_fail "page faults waited for the verdict client ($ms ms)"
	grep -q "req read /big paging async" "$base/v" || it_fail "no async paging notification"
	# a read that is not paging I/O (O_DIRECT) does wait for the verdict
	local t0 t1
	t0=$(date +%s%N)
	dd if="$M/big" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null || it_fail "direct read failed"
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 >= 1500)) || it_fail "a direct read did not wait for its verdict ($(((t1 - t0) / 1000000)) ms)"
	grep -Eq "^req read /big$" "$base/v" || it_fail "no verdict request for the direct read"
	[[ $(stat_of paging_async) -ge 1 ]] || it_fail "paging_async not counted"
	it_bg_stop
	it_unmount "$M"
	it_wait_pid "$IT_PID" 10
	# bounded mode: each paging read waits at most paging_bound_ms
	it_mount "$L" "$M" --filter monitor:verdict_timeout_ms=10000,paging_bound_ms=20
	it_monitor_client "$base/v2" "$M" --ops read --sleep-ms 2000
	head -c $((4 << 20)) /dev/urandom >"$L/small"
	ms=$("$MONTEST" mmapread "$M/small") || it_fail "mmapread"
	it_log "mmap read of 4 MiB, paging_bound_ms=20: $ms ms"
	# 4 MiB = at most 1024 faults of one page; in practice readahead
	# makes it ~32 requests: 32 x 20 ms
	((ms < 8000)) || it_fail "paging bound not enforced ($ms ms)"
	[[ $(stat_of timeouts) -ge 1 ]] || it_fail "bounded paging waits not counted as timeouts"
	it_log "ok: paging"
}

case_drops() {
	it_mount "$L" "$M" --filter monitor:queue_kb=64
	it_bg "$MONTEST" noread "$M" "$base/go" >"$base/nr"
	local nr=$IT_BG
	it_wait_line "$base/nr" ready || it_fail "noread client"
	mkdir "$M/d"
	touch "$M"/d/f{1..3000}
	rm -r "$M/d"
	# a stalled client costs no CPU while nothing happens (the sender
	# retries it every few ms, it does not spin)
	local t0 t1
	t0=$(awk '{ print $14 + $15 }' "/proc/$IT_PID/stat")
	sleep 1
	t1=$(awk '{ print $14 + $15 }' "/proc/$IT_PID/stat")
	it_log "daemon CPU with a stalled client, idle volume: $((t1 - t0)) ticks in 1 s"
	((t1 - t0 < 20)) || it_fail "the daemon spins with a stalled client ($((t1 - t0)) ticks/s)"
	# the drops are reported in `fsfilter status` (JSON and human output)
	local d
	d=$(fig events.dropped)
	[[ $d =~ ^[0-9]+$ ]] && ((d > 0)) || it_fail "status: events.dropped '$d'"
	[[ $(fig clients) == 1 ]] || it_fail "status: clients $(fig clients)"
	"$FSFILTER" status "$M" >"$base/st.txt"
	grep -Eq '^  client\.[0-9]+\.dropped +[1-9]' "$base/st.txt" ||
		{ cat "$base/st.txt" >&2; it_fail "status: no client dropped count"; }
	it_log "status reports $d dropped events"
	touch "$base/go"
	it_wait_pid "$nr" 30
	local rc=$?
	cat "$base/nr" >&2
	((rc == 0)) || it_fail "dropped-event accounting wrong"
	it_log "ok: drops"
}

case_redirect() {
	local back=$base/back ev=$base/ev
	mkdir "$back"
	head -c 300000 /dev/urandom >"$back/r"
	printf 'virtual content\n' >"$back/v"
	printf 'lower r\n' >"$L/r.bin"
	it_mount "$L" "$M" --filter monitor \
		--filter "redirect:rule=/r.bin=>$back/r;rule=/v.txt=>$back/v"
	# monitor (385000) above redirect (145000)
	"$FSFILTER" status "$M" --json | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"]
sys.exit(0 if [x["filter"] for x in i] == ["monitor", "redirect"] else 1)' ||
		it_fail "stack is not monitor above redirect"
	spy_start "$ev" --ops open,read,release
	cmp "$M/r.bin" "$back/r" || it_fail "cmp: the redirected file differs from the backing file"
	[[ $(cat "$M/v.txt") == "virtual content" ]] || it_fail "virtual file content"
	dd if="$M/r.bin" of="$base/dd.out" bs=4096 skip=10 count=1 iflag=direct 2>/dev/null
	cmp -s "$base/dd.out" <(dd if="$back/r" bs=4096 skip=10 count=1 2>/dev/null) ||
		it_fail "direct read of the redirected file"
	spy_stop "$ev"
	need "$ev" '"phase":"post","op":"open"' '"comm":"cmp"' '"path":"/r.bin"' '"result":0'
	need "$ev" '"op":"read"' '"comm":"cmp"' '"path":"/r.bin"'
	need "$ev" '"op":"open"' '"comm":"cat"' '"path":"/v.txt"' '"result":0'
	need "$ev" '"op":"read"' '"comm":"cat"' '"path":"/v.txt"' '"information":16'
	need "$ev" '"op":"read"' '"comm":"dd"' '"path":"/r.bin"' '"offset":40960,"length":4096' '"information":4096'
	need "$ev" '"op":"release"' '"comm":"cat"' '"path":"/v.txt"'
	# the reads monitor saw add up to the backing file's size, not the
	# lower file's 8 bytes
	python3 - "$ev" <<'PY' || it_fail "read events of /r.bin do not cover the backing size"
import json, sys
ends = [0]
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("op") == "read" and e.get("path") == "/r.bin" and e.get("comm") == "cmp":
        ends.append(e["offset"] + e["information"])
print("cmp reads reach offset", max(ends), file=sys.stderr)
sys.exit(0 if max(ends) == 300000 else 1)
PY
	it_log "ok: monitor above redirect"
}

case "$CASE" in
events | filters | verdict | paging | drops | redirect) "case_$CASE" ;;
*) it_fail "unknown case $CASE" ;;
esac
