#!/usr/bin/env bash
# scripts/demo, the README's first command, against the already-built tree
# (FSFILTER_DEMO_BUILD: no setup, no rebuild):
#   tour     `scripts/demo --no-wait`: every filter's visible effect is in the
#            tour's output, and at the end nothing is mounted, no process of
#            the demo is left and its temp dir is gone;
#   sigint   `scripts/demo --wait` stays mounted until Ctrl-C (SIGINT to its
#            process group, as a terminal sends it), then unmounts cleanly;
#   tty      `scripts/demo` on a pty waits by itself; a typed Ctrl-C ends it.
# Env: FSFILTER_DEMO_BUILD, SRC_DIR (set by CMake).
. "$(dirname "$0")/lib.sh"
it_init
[[ -d ${FSFILTER_DEMO_BUILD:-} ]] || it_fail "FSFILTER_DEMO_BUILD not set"
demo=$SRC_DIR/scripts/demo
it_tmpdir base
out=$base/out

# The demo's work dir, from its "what to try next" (cd WORK).
workdir() { sed -n 's/^  cd \(\/tmp\/fsfilter-demo\.[A-Za-z0-9]*\)$/\1/p' "$out" | head -n1; }

expect() { # expect TEXT WHAT: a line of the tour's output contains TEXT
	grep -qF -- "$1" "$out" || it_fail "the tour does not show $2 ('$1'): $(cat "$out")"
}

# After the demo: no mount, no process, no temp dir left behind.
left_nothing() {
	local w=$1 p
	[[ -n $w ]] || it_fail "no work dir in the demo's output: $(cat "$out")"
	if awk -v w="$w/" 'index($5, w) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		IT_MOUNTS+=("$w/volume")
		it_fail "the demo left $w/volume mounted"
	fi
	p=$(pgrep -f -- "$w" || true)
	[[ -z $p ]] || it_fail "the demo left processes behind: $(ps -o pid,args -p "${p//$'\n'/,}")"
	[[ ! -e $w ]] || it_fail "the demo left $w behind"
}

case_tour() {
	local rc
	"$demo" --no-wait >"$out" 2>&1 </dev/null &
	IT_PIDS+=("$!")
	it_wait_pid "$!" 60
	rc=$?
	((rc == 0)) || it_fail "scripts/demo --no-wait exited $rc: $(cat "$out")"
	# crypt: keys, ciphertext below, plaintext above
	expect '.fsfilter-crypt.conf' "crypt init's config file in the lower directory"
	expect 'the launch code is 0000' "the plaintext through the volume"
	grep -A1 -F '$ head -c 64 lower/secret.txt' "$out" | grep -qF 'F   S   F   C   R   Y   P   T' ||
		it_fail "the lower file is not shown as ciphertext: $(cat "$out")"
	grep -qF 'l   a   u   n' "$out" && it_fail "plaintext in the lower dump: $(cat "$out")"
	# redirect: the virtual file, its write denied, copy-on-write
	expect 'color = blue' "the redirected virtual file's backing content"
	expect 'volume/app.conf: Permission denied' "the readonly rule denying a write"
	expect '- ship the demo' "the copy-on-write file after a write"
	grep -A1 -F '$ head -c 8 lower/notes.txt' "$out" | grep -qF FSFCRYPT ||
		it_fail "the materialised notes.txt is not encrypted below: $(cat "$out")"
	# monitor: the scanner's verdicts, the spy's log
	expect 'Invoice 2024-117' "an allowed open"
	expect 'cat: volume/eicar.txt: Permission denied' "the scanner's deny"
	expect 'scanner: DENY  /eicar.txt' "the scanner's log"
	grep -E 'post open +/eicar.txt +Permission denied' "$out" >/dev/null ||
		it_fail "the spy did not log the denied open: $(cat "$out")"
	expect 'what to try next' "what to try next"
	expect 'done.' "the end"
	left_nothing "$(workdir)"
}

case_sigint() {
	local pid rc w i
	# its own process group, SIGINT not ignored (as from a terminal; perl
	# resets it in case whoever started ctest left it ignored)
	set -m
	perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' -- "$demo" --wait >"$out" 2>&1 </dev/null &
	pid=$!
	set +m
	IT_PIDS+=("$pid")
	for ((i = 0; i < 600; i++)); do
		grep -q 'Press Ctrl-C' "$out" && break
		kill -0 "$pid" 2>/dev/null || it_fail "the demo exited before waiting: $(cat "$out")"
		sleep 0.1
	done
	grep -q 'Press Ctrl-C' "$out" || it_fail "the demo never waited: $(cat "$out")"
	w=$(workdir)
	[[ -n $w ]] && it_is_mounted "$w/volume" || it_fail "not mounted while waiting: $(cat "$out")"
	IT_MOUNTS+=("$w/volume")
	kill -INT -- "-$pid"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		ps -eo pid,ppid,pgid,stat,wchan:20,args | awk -v g="$pid" 'NR == 1 || $3 == g || $1 == g' >&2
		it_fail "the demo is still running 30 s after Ctrl-C: $(cat "$out")"
	fi
	wait "$pid"
	rc=$?
	((rc == 0)) || it_fail "the demo exited $rc after Ctrl-C: $(cat "$out")"
	expect '== unmounting' "the unmount after Ctrl-C"
	left_nothing "$w"
}

# The real thing: `scripts/demo` with no option on a terminal (a pty) waits
# by itself; Ctrl-C typed on the terminal (the tty sends SIGINT to the
# whole foreground process group) unmounts and exits 0.
case_tty() {
	local w
	python3 - "$demo" "$out" <<'PY' || it_fail "the demo on a pty: $(cat "$out")"
import os, pty, select, sys, time
demo, out = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(demo, [demo])
buf = b""
def pump(until, secs):
    global buf
    end = time.time() + secs
    while (until is None or until not in buf) and time.time() < end:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                d = os.read(fd, 65536)
            except OSError:
                return
            if not d:
                return
            buf += d
pump(b"Press Ctrl-C", 90)
waiting = b"Press Ctrl-C" in buf
if waiting:
    os.write(fd, b"\x03")
    pump(None, 30)
# EOF on the pty comes when the last process closes it, which can be just
# before the demo itself is reaped
for _ in range(100):
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
if not done:
    os.kill(pid, 15)
    pump(None, 10)
    os.waitpid(pid, 0)
open(out, "wb").write(buf.replace(b"\r\n", b"\n"))
sys.exit(0 if waiting and done and os.waitstatus_to_exitcode(st) == 0 else 1)
PY
	expect '== unmounting' "the unmount after Ctrl-C"
	expect 'done.' "the end"
	left_nothing "$(workdir)"
}

export FSFILTER_DEMO_BUILD
case ${1:-all} in
tour) case_tour ;;
sigint) case_sigint ;;
tty) case_tty ;;
all) case_tour && case_sigint && case_tty ;;
*) it_fail "unknown case $1" ;;
esac
it_log "ok"
