#!/usr/bin/env bash
# A volume whose daemon does not answer (stopped with SIGSTOP, as under a
# debugger) no longer makes the CLI wait forever: `fsfilter status` lists it
# as not responding and still shows the other volume (exit 1), in text and
# in --json ("responding": false, "errno": "ETIMEDOUT"); `status MNT`, a
# detach, `spy` and `redirect list` on the stopped volume fail with a clear
# message; a bad --timeout-ctl is a usage error. After SIGCONT the volume
# answers again.
#
# The default bound (5 s) is exercised once, FSFILTER_CTL_TIMEOUT and
# --timeout-ctl with 1 s. Every command runs under `timeout 60`, so a
# regression fails the test (within the 120 s CTest bound, before the
# watchdog) instead of hanging it; nothing is timed beyond that.
#
# In a private mount namespace: only this test's volumes are listed, and
# other tests' `fsfilter status` never meets the stopped daemon.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init
it_forget_mounts

it_tmpdir base
echo backing >"$base/r.backing"
it_two_volumes "$base" --filter noop --filter monitor \
	--filter "redirect:rule=/r=>$base/r.backing"
pid_a=$IT_PID_A a=$base/ma b=$base/mb

# the PID we stop is A's daemon (mount -f runs it in the foreground)
p=$("$FSFILTER" status "$a" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["volume"]["pid"])') ||
	it_fail "status --json of A"
[[ $p == "$pid_a" ]] || it_fail "A's daemon is pid $p, not $pid_a"

# continue A on every exit path, before it_cleanup unmounts it
stopped=
resume() {
	[[ -n $stopped ]] && it_own_pid "$pid_a" && kill -CONT "$pid_a"
	stopped=
}
trap 'rc=$?; resume; (exit $rc); it_cleanup' EXIT

run() { # run CMD...: stdout in $out, stderr in $err, status in $rc
	out=$("$@" 2>"$base/err")
	rc=$?
	err=$(cat "$base/err")
	((rc != 124)) || it_fail "$* still waiting after 60 s"
}

kill -STOP "$pid_a" || it_fail "SIGSTOP A"
stopped=1

# --- status of every volume: the default bound ------------------------------
run timeout 60 "$FSFILTER" status --color=never
((rc == 1)) || it_fail "status exited $rc, expected 1: $out $err"
grep -q "^Volume $b " <<<"$out" || it_fail "B not shown: $out"
grep -q "^Volume $a: not responding: no answer within 5 s" <<<"$out" ||
	it_fail "A not listed as not responding: $out"

# --- the same as JSON, bound from the environment ---------------------------
run env FSFILTER_CTL_TIMEOUT=1 timeout 60 "$FSFILTER" status --json
((rc == 1)) || it_fail "status --json exited $rc, expected 1: $err"
A=$a B=$b python3 -c '
import json, os, sys
v = {e["mountpoint"] if "mountpoint" in e else e["volume"]["mountpoint"]: e
     for e in json.load(sys.stdin)}
a, b = v[os.environ["A"]], v[os.environ["B"]]
assert len(v) == 2, v
assert a["ok"] is False and a["responding"] is False, a
assert a["errno"] == "ETIMEDOUT" and "no answer within 1 s" in a["error"], a
assert b["ok"] is True and b["responding"] is True, b
assert b["volume"]["mountpoint"] == os.environ["B"], b
' <<<"$out" || it_fail "status --json: $out"

# --- one volume: status and a detach of the stopped one fail clearly -------
run timeout 60 "$FSFILTER" status "$a" --timeout-ctl 1
((rc == 1)) || it_fail "status A exited $rc, expected 1: $out $err"
[[ $err == "fsfilter status: $a: not responding: no answer within 1 s"* ]] ||
	it_fail "status A said: $err"
run timeout 60 "$FSFILTER" status "$a" --timeout-ctl=1 --json
((rc == 1)) || it_fail "status A --json exited $rc, expected 1: $err"
python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["ok"] is False and o["responding"] is False and o["exit_code"] == 1, o
assert "no answer within 1 s" in o["error"], o
' <<<"$out" || it_fail "status A --json: $out"
run timeout 60 "$FSFILTER" detach "$a" nosuch --timeout-ctl 1
((rc == 1)) || it_fail "detach on A exited $rc, expected 1: $err"
[[ $err == *"not responding"*"may still be carried out"* ]] ||
	it_fail "detach on A said: $err"
# the ports of A: spy's handshake, redirect's connection
run timeout 60 "$FSFILTER" spy "$a" --count 1 --timeout-ctl 1
((rc == 1)) && [[ $err == "fsfilter spy: $a: not responding: no answer within 1 s"* ]] ||
	it_fail "spy on A exited $rc: $err"
run timeout 60 "$FSFILTER" redirect list "$a" --timeout-ctl 1
((rc == 1)) && [[ $err == "fsfilter redirect: $a: not responding: no answer within 1 s"* ]] ||
	it_fail "redirect list on A exited $rc: $err"
# B is not held up by A
run timeout 60 "$FSFILTER" status "$b"
((rc == 0)) || it_fail "status B exited $rc: $err"

# --- bad values are usage errors -------------------------------------------
for bad in x -1 1e9 ''; do
	run timeout 60 "$FSFILTER" status "$b" --timeout-ctl "$bad"
	((rc == 2)) || it_fail "--timeout-ctl '$bad' exited $rc, expected 2"
done
run env FSFILTER_CTL_TIMEOUT=soon timeout 60 "$FSFILTER" status "$b"
((rc == 2)) && [[ $err == *FSFILTER_CTL_TIMEOUT* ]] ||
	it_fail "FSFILTER_CTL_TIMEOUT=soon exited $rc: $err"

# --- continued, A answers again (0: no bound) --------------------------------
resume
run timeout 60 "$FSFILTER" status --timeout-ctl 0
((rc == 0)) || it_fail "status after SIGCONT exited $rc: $err"
grep -q "^Volume $a " <<<"$out" && grep -q "^Volume $b " <<<"$out" ||
	it_fail "status after SIGCONT: $out"
it_log "ok"
