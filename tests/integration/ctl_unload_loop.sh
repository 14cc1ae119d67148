#!/usr/bin/env bash
# Load and unload the example filter ~50 times while 4 processes read and
# write the volume without pause: the workload sees no error, the daemon
# neither crashes nor hangs, and at the end nothing is in flight and no
# callback data is alive.
. "$(dirname "$0")/lib.sh"
it_init
[[ -f ${HELLO_SO:-} ]] || it_fail "HELLO_SO not set"
ROUNDS=${ROUNDS:-50}

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
IT_LOG=$base/daemon.log
it_mount "$base/lower" "$base/mnt" --filter noop
mnt=$base/mnt

# the workload: each process rewrites and re-reads its own files, checking
# the content, until the stop file appears
cat >"$base/work.py" <<'PY'
import os, sys
mnt, me, stop = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
while not os.path.exists(stop):
    path = os.path.join(mnt, "w%s-%d" % (me, n % 8))
    data = ("%s:%d:" % (me, n)).encode() * (1 + n % 300)
    with open(path, "wb") as f:
        f.write(data)
    with open(path, "rb") as f:
        got = f.read()
    if got != data:
        sys.exit("worker %s: content mismatch at round %d" % (me, n))
    os.stat(path)
    n += 1
print("worker %s: %d rounds" % (me, n))
PY
pids=()
for i in 1 2 3 4; do
	python3 "$base/work.py" "$mnt" "$i" "$base/stop" 2>>"$base/work.err" &
	pids+=($!)
	IT_PIDS+=($!)
done

for ((r = 1; r <= ROUNDS; r++)); do
	timeout 30 "$FSFILTER" load "$mnt" "$HELLO_SO" >/dev/null 2>"$base/err" ||
		it_fail "round $r: load failed: $(cat "$base/err")"
	sleep 0.0$((RANDOM % 10))
	if ((r % 5 == 0)); then	# a status while busy
		timeout 30 "$FSFILTER" status "$mnt" --json >"$base/st.json" ||
			it_fail "round $r: status failed"
	fi
	timeout 30 "$FSFILTER" unload "$mnt" hello >/dev/null 2>"$base/err" ||
		it_fail "round $r: unload failed (or hung): $(cat "$base/err")"
	kill -0 "$IT_PID" 2>/dev/null || it_fail "round $r: the daemon died"
done
touch "$base/stop"
for p in "${pids[@]}"; do
	it_wait_pid "$p" 30 || it_fail "a worker failed: $(cat "$base/work.err")"
done
[[ ! -s $base/work.err ]] || it_fail "worker errors: $(cat "$base/work.err")"

"$FSFILTER" status "$mnt" --json >"$base/st.json" || it_fail "final status failed"
python3 - "$base/st.json" <<'PY' || it_fail "final status check failed"
import json, sys
s = json.load(open(sys.argv[1]))
v = s["volume"]
assert v["live_callback_data"] == 0, v
assert [i["filter"] for i in s["instances"]] == ["noop"], s["instances"]
# our own status request is not an operation of the volume
assert v["inflight"] == 0 and s["operations"] == [], s
assert v["dispatched"] > 1000, v
PY
n=$(grep -c "unloaded filter hello" "$IT_LOG")
((n == ROUNDS)) || it_fail "expected $ROUNDS unload lines, got $n"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
it_log "ok: $ROUNDS load/unload rounds under load"
