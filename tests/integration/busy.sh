#!/usr/bin/env bash
# Unmount and stop while busy (docs/reliability.md): 32 writer threads
# append fsync'ed records through fds they hold, and 8 opens wait on a
# monitor verdict client that never answers. Then:
#   unmount  `fsfilter unmount` refuses a busy volume (EBUSY) and the
#            volume keeps working; `fsfilter unmount --lazy` detaches it
#            at once, the writers go on through their fds, the waiting
#            opens complete when the verdict client goes, and the daemon
#            exits by itself once the last fd is closed.
#   sigterm  SIGTERM to the daemon: it exits cleanly (status 0) within a
#            few seconds, the mount is gone, every waiting open returns
#            (ENOTCONN: the kernel fails what the daemon did not answer),
#            the writers' later writes fail, never hang.
# In both: every record a writer saw fsync'ed is in the lower file, whole
# and in order (no data loss), and nothing is left mounted.
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${MONTEST:-} ]] || it_fail "MONTEST not set"

it_tmpdir base

# writers MNT OUT: 32 threads, each holds MNT/wN open and appends 64-byte
# records with fsync after each until a write fails or the file STOP in
# $base appears; prints "N acked" per thread at the end.
writers() {
	python3 - "$1" "$base/stop" >"$2" 2>&1 <<'PY' &
import os, sys, threading
mnt, stop = sys.argv[1], sys.argv[2]
fds = [os.open(f"{mnt}/w{i}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
       for i in range(32)]
print("ready", flush=True)
acked = [0] * 32
def run(i):
    n = 0
    while not os.path.exists(stop):
        rec = (f"w{i:02d} {n:010d} ".ljust(63, "x") + "\n").encode()
        try:
            os.write(fds[i], rec)
            os.fsync(fds[i])
        except OSError:
            break
        n += 1
        acked[i] = n
    try:
        os.close(fds[i])
    except OSError:
        pass
ts = [threading.Thread(target=run, args=(i,)) for i in range(32)]
for t in ts: t.start()
for t in ts: t.join()
for i in range(32): print(i, acked[i], flush=True)
PY
	WRITERS=$!
	IT_PIDS+=("$WRITERS")
	it_wait_line "$2" ready 20 "$WRITERS" || it_fail "writers did not start: $(cat "$2")"
}

# check_records LOWER OUT: every acked record is there, in order, whole
check_records() {
	python3 - "$1" "$2" <<'PY' || it_fail "records lost or damaged"
import sys
lower, out = sys.argv[1], sys.argv[2]
acked = {}
for line in open(out):
    p = line.split()
    if len(p) == 2 and p[0].isdigit():
        acked[int(p[0])] = int(p[1])
assert len(acked) == 32, f"writers reported {len(acked)} threads"
total = 0
for i, n in acked.items():
    data = open(f"{lower}/w{i}", "rb").read()
    recs = data.split(b"\n")[:-1]
    assert len(recs) >= n, f"w{i}: {n} acked, {len(recs)} in the file"
    for k, r in enumerate(recs):
        want = (f"w{i:02d} {k:010d} ".ljust(63, "x")).encode()
        assert r == want, f"w{i} record {k}: {r[:30]!r}"
    total += n
assert total > 0, "no record was written"
print(f"{total} acked records all present")
PY
}

requests() { "$MONTEST" stats "$1" | awk '$1 == "requests" { print $2 }'; }

# waiting_opens MNT: 8 cats of files, pended by the verdict client
waiting_opens() {
	CATS=()
	local i
	for i in 1 2 3 4 5 6 7 8; do
		cat "$1/r$i" >"$base/cat$i" 2>&1 &
		CATS+=($!)
		IT_PIDS+=($!)
	done
	# the client answers one at a time (and sleeps on the first): count
	# the volume's verdict requests
	for ((i = 0; i < 100; i++)); do
		(($(requests "$1") >= 8)) && break
		sleep 0.05
	done
	(($(requests "$1") >= 8)) || it_fail "8 opens did not reach the verdict client"
	for i in "${CATS[@]}"; do kill -0 "$i" 2>/dev/null || it_fail "an open did not wait"; done
}

start() {
	lower=$base/$1.lower mnt=$base/$1.mnt
	mkdir -p "$lower" "$mnt"
	for i in 1 2 3 4 5 6 7 8; do echo "r$i" >"$lower/r$i"; done
	IT_LOG=$base/$1.log
	it_mount "$lower" "$mnt" --no-passthrough \
		--filter monitor:verdict_timeout_ms=60000
	DAEMON=$IT_PID
	rm -f "$base/stop"
	writers "$mnt" "$base/$1.writers"
	# an output file of its own per phase (the previous client's
	# "ready" must not count)
	it_monitor_client "$base/$1.vc" "$mnt" --ops open --sleep-ms 600000
	VC=$IT_BG
	waiting_opens "$mnt"
	sleep 1	# the writers are busy
}

# --- fsfilter unmount
start unmount
"$FSFILTER" unmount "$mnt" 2>"$base/umount.err" && it_fail "unmount of a busy volume succeeded"
grep -qi busy "$base/umount.err" || it_fail "unmount did not say busy: $(cat "$base/umount.err")"
it_is_mounted "$mnt" || it_fail "a refused unmount unmounted"
kill -0 "$DAEMON" || it_fail "daemon died on a refused unmount"
"$FSFILTER" unmount --lazy "$mnt" || it_fail "lazy unmount"
it_is_mounted "$mnt" && it_fail "still mounted after --lazy"
sleep 0.5
kill -0 "$WRITERS" 2>/dev/null || it_fail "writers stopped at a lazy unmount"
kill -KILL "$VC"	# the waiting opens are released (default allow)
for p in "${CATS[@]}"; do
	it_wait_pid "$p" 10 || it_fail "a released open failed: $(cat "$base"/cat*)"
done
[[ $(cat "$base/cat3") == r3 ]] || it_fail "released open read: $(cat "$base/cat3")"
touch "$base/stop"
it_wait_pid "$WRITERS" 20 || it_fail "writers failed"
it_wait_pid "$DAEMON" 20 || it_fail "daemon exit status after the last close: $?"
check_records "$lower" "$base/unmount.writers"

# --- SIGTERM
start sigterm
t0=$(date +%s%N)
kill -TERM "$DAEMON"
it_wait_pid "$DAEMON" 20 || it_fail "daemon exit status after SIGTERM: $?"
it_log "daemon gone $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM"
it_is_mounted "$mnt" && it_fail "still mounted after SIGTERM"
for p in "${CATS[@]}"; do
	it_wait_pid "$p" 10 >/dev/null 2>&1
	kill -0 "$p" 2>/dev/null && it_fail "a waiting open still hangs after SIGTERM"
done
grep -q "not connected" "$base/cat5" || it_fail "a waiting open after SIGTERM: $(cat "$base/cat5")"
it_wait_pid "$WRITERS" 20 || it_fail "writers failed"
check_records "$lower" "$base/sigterm.writers"
kill -KILL "$VC" 2>/dev/null	# asleep in its first verdict; not ours to wait for
it_log "ok"
