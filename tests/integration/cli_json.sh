#!/usr/bin/env bash
# The command line's machine-readable and human faces:
#   --json     every tabular command prints valid JSON with its documented
#              fields (fsfilter(1), JSON OUTPUT): status (also of a mount
#              point that is not UTF-8), check (good and
#              bad config), load/attach/detach/unload, fault, spy (JSON
#              lines), redirect list, crypt verify
#   colours    none in piped output or with NO_COLOR / --color=never, some
#              with --color=always and on a terminal (script(1))
#   load NAME  fsfilter load MNT hello finds hello.so in the build tree,
#              and NAME.so in $FSFILTER_FILTER_PATH
. "$(dirname "$0")/lib.sh"
it_init
[[ -f ${HELLO_SO:-} ]] || it_fail "HELLO_SO not set"
command -v python3 >/dev/null || it_skip "no python3"

it_tmpdir base
mkdir "$base/lower" "$base/mnt" "$base/back" "$base/clower" "$base/fdir"
echo golden >"$base/back/golden"
echo data >"$base/lower/data.txt"
mnt=$base/mnt
it_mount "$base/lower" "$mnt" --enable-fault-injection --filter monitor \
	--filter "redirect:rule=/etc.conf=>$base/back/golden"

# json_check FILE DESCRIPTION 'python expression on j' [ARG]: FILE must be
# valid JSON whose fields hold (sys.argv[3] is ARG). Collected here and
# checked by one python3 at the end (interpreter start-up is slow on a busy
# machine).
CHECKS=()
json_check() {
	CHECKS+=("$1" "$2" "$3" "${4:-}")
}
run_checks() {
	python3 - "${CHECKS[@]}" <<'PY' || it_fail "JSON output (see above)"
import json, sys
a, bad = sys.argv[1:], 0
for i in range(0, len(a), 4):
    path, what, expr, arg = a[i:i + 4]
    try:
        j = json.load(open(path))
    except ValueError as e:
        print(f"{what}: not valid JSON: {e}", file=sys.stderr)
        bad += 1
        continue
    sys.argv[3:] = [arg]
    if not eval(expr):
        print(f"{what}: JSON lacks what fsfilter(1) documents: {expr}\n"
              + json.dumps(j, indent=1)[:2000], file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
}
esc=$'\033'
no_escapes() {
	grep -q "$esc" "$1" && it_fail "$2: escape sequences in piped output"
	return 0
}

# --- status --------------------------------------------------------------------
"$FSFILTER" status "$mnt" --json >"$base/status.json" || it_fail "status --json"
json_check "$base/status.json" "status --json" \
	'j["ok"] and j["volume"]["mountpoint"] == sys.argv[3] and [i["filter"] for i in j["instances"]] == ["monitor", "redirect"] and all({"altitude", "args", "source", "pre", "post"} <= set(i) for i in j["instances"]) and isinstance(j["operations"], list) and "operations_total" in j' "$mnt"
"$FSFILTER" status "$mnt" >"$base/status.txt" || it_fail "status"
no_escapes "$base/status.txt" "status"
grep -q "^Instances (top first):" "$base/status.txt" || it_fail "status text"

# a mount point whose name is not UTF-8 (0xff 0xfe, then an encoded
# surrogate): status --json is still valid UTF-8, each such byte as \udcXX,
# which Python's surrogateescape reads back as the same name
main_pid=$IT_PID
bad=$base/mnt-$'\xff\xfe'-$'\xc3\xa9'-$'\xed\xa0\x80'
mkdir "$base/lower2" "$bad"
it_mount "$base/lower2" "$bad"
"$FSFILTER" status "$bad" --json >"$base/status-bad.json" || it_fail "status --json of a mount point that is not UTF-8"
grep -qF 'mnt-\udcff\udcfe-'$'\xc3\xa9''-\udced\udca0\udc80"' "$base/status-bad.json" ||
	it_fail "status --json: the mount point's bytes are not \\udcXX: $(grep -a mountpoint "$base/status-bad.json")"
json_check "$base/status-bad.json" "status --json (mount point not UTF-8)" \
	'j["ok"] and j["volume"]["mountpoint"] == sys.argv[3]' "$bad"
"$FSFILTER" status "$bad" >/dev/null || it_fail "status of a mount point that is not UTF-8"
it_unmount "$bad"
it_wait_pid "$IT_PID" 10 || it_fail "daemon of $bad exited with $?"
IT_PID=$main_pid

# --- load NAME (build tree), --json of load/detach/attach/unload -----------------
"$FSFILTER" load "$mnt" hello --args deny --json >"$base/load.json" ||
	it_fail "load $mnt hello (by name, from the build tree)"
json_check "$base/load.json" "load --json" \
	'j["ok"] and j["filter"] == "hello" and j["altitude"] == 320000 and j["path"].endswith("/hello.so") and j["mountpoint"]'
: >"$mnt/new.forbidden" 2>/dev/null && it_fail "hello (loaded by name) did not deny"
"$FSFILTER" detach "$mnt" hello --json >"$base/detach.json" || it_fail "detach --json"
json_check "$base/detach.json" "detach --json" 'j["ok"] and j["filter"] == "hello"'
"$FSFILTER" attach "$mnt" hello --altitude 310000 --json >"$base/attach.json" || it_fail "attach --json"
json_check "$base/attach.json" "attach --json" 'j["ok"] and j["altitude"] == 310000'
"$FSFILTER" unload "$mnt" hello --json >"$base/unload.json" || it_fail "unload --json"
json_check "$base/unload.json" "unload --json" 'j["ok"] and j["filter"] == "hello"'
# a failure is JSON too, with the exit code
"$FSFILTER" detach "$mnt" hello --json >"$base/detach2.json" 2>/dev/null && it_fail "detach of a detached filter"
json_check "$base/detach2.json" "failed detach --json" \
	'j["ok"] is False and j["exit_code"] == 1 and j["error"]'

# FSFILTER_FILTER_PATH: a directory of one's own, searched first
cp "$HELLO_SO" "$base/fdir/hello.so"
out=$(FSFILTER_FILTER_PATH=/nonexistent:$base/fdir "$FSFILTER" load "$mnt" hello --json) ||
	it_fail "load with FSFILTER_FILTER_PATH"
[[ $out == *"\"path\": \"$base/fdir/hello.so\""* ]] || it_fail "not loaded from FSFILTER_FILTER_PATH: $out"
"$FSFILTER" unload "$mnt" hello >/dev/null || it_fail "unload"
"$FSFILTER" load "$mnt" nosuchfilter 2>"$base/err" && it_fail "load of an unknown NAME"
grep -q "no filter 'nosuchfilter'" "$base/err" || it_fail "load NAME error: $(cat "$base/err")"

# --- fault ---------------------------------------------------------------------
"$FSFILTER" fault "$mnt" "" --json >"$base/fault.json" || it_fail "fault --json"
json_check "$base/fault.json" "fault --json" 'j["ok"] and "fired" in j and j["spec"] == ""'

# --- redirect list -------------------------------------------------------------
"$FSFILTER" redirect list "$mnt" --json >"$base/rules.json" || it_fail "redirect list --json"
json_check "$base/rules.json" "redirect list --json" \
	'[(r["path"], r["backing"], r["policy"], r["errno"]) for r in j["rules"]] == [("/etc.conf", sys.argv[3] + "/back/golden", "readonly", "EACCES")] and j["rules"][0]["spec"].startswith("/etc.conf=>") and j["mountpoint"]' "$base"

# --- spy: JSON lines -------------------------------------------------------------
it_spy "$base/spy.json" "$mnt" --json --ops open --count 2 --timeout 20
spy=$IT_BG
cat "$mnt/data.txt" >/dev/null
cat "$mnt/nothere" 2>/dev/null
cat "$mnt/data.txt" >/dev/null
it_wait_pid "$spy" 25 || it_fail "spy exited with $?"
python3 -c 'import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no events"
for l in lines:
    e = json.loads(l)
    assert {"seq", "op", "path", "pid", "comm"} <= set(e), e
    assert e["op"] == "open", e' "$base/spy.json" || {
	cat "$base/spy.json" "$base/spy.err" >&2
	it_fail "spy --json lines"
}
no_escapes "$base/spy.json" "spy"

# --- check ---------------------------------------------------------------------
cat >"$base/good.conf" <<CONF
[volume]
lower = $base/lower
mountpoint = $base/mnt
[filter noop]
altitude = 370000
CONF
"$FSFILTER" check "$base/good.conf" --json >"$base/check.json" || it_fail "check --json of a good config"
json_check "$base/check.json" "check --json" \
	'j["ok"] and j["exit_code"] == 0 and j["error"] is None and j["filters"] == [{"name": "noop", "altitude": 370000, "args": "", "file": None}]'
printf '[volume]\nlower = %s\nbogus = 1\n' "$base/lower" >"$base/bad.conf"
"$FSFILTER" check --json "$base/bad.conf" >"$base/check-bad.json" 2>/dev/null
rc=$?
((rc == 2)) || it_fail "check --json of a bad config: exit $rc, expected 2"
json_check "$base/check-bad.json" "check --json (bad)" \
	'j["ok"] is False and j["exit_code"] == 2 and "bad.conf:3" in j["error"] and "bogus" in j["error"]'
"$FSFILTER" check "$base/good.conf" >"$base/check.txt" || it_fail "check"
no_escapes "$base/check.txt" "check"

# --- crypt verify ------------------------------------------------------------------
it_crypt_init "$base/clower" "$base/key"
echo plain >"$base/clower/plain.txt"
"$FSFILTER" crypt verify "$base/clower" --keyfile "$base/key" --json >"$base/verify.json" 2>/dev/null
rc=$?
((rc == 1)) || it_fail "crypt verify of a plaintext file: exit $rc, expected 1"
json_check "$base/verify.json" "crypt verify --json" \
	'j["command"] == "verify" and j["ok"] is False and j["files"] == 1 and j["bad_files"] == 1 and j["problems"][0]["problem"] == "not_encrypted" and j["problems"][0]["path"].endswith("/plain.txt")'

# --- colours -------------------------------------------------------------------
"$FSFILTER" crypt verify "$base/clower" --keyfile "$base/key" >"$base/verify.txt" 2>&1
no_escapes "$base/verify.txt" "crypt verify"
"$FSFILTER" --color=always crypt verify "$base/clower" --keyfile "$base/key" >"$base/verify-c.txt" 2>&1
grep -q "$esc\[31m" "$base/verify-c.txt" || it_fail "--color=always: no red in crypt verify"
"$FSFILTER" check "$base/good.conf" --color always >"$base/check-c.txt" || it_fail "check --color always"
grep -q "$esc\[32mok" "$base/check-c.txt" || it_fail "--color always: no green ok"
"$FSFILTER" --color=sometimes check "$base/good.conf" >/dev/null 2>&1
rc=$?
((rc == 2)) || it_fail "--color=sometimes: exit $rc, expected 2"
# on a terminal: colours, unless NO_COLOR or --color=never
if script -qec true /dev/null >/dev/null 2>&1; then
	tty_run() { script -qec "$*" /dev/null </dev/null; }
	tty_run "$FSFILTER" check "$base/good.conf" >"$base/tty.txt" || it_fail "check on a tty"
	grep -q "$esc\[32mok" "$base/tty.txt" || it_fail "no colour on a terminal: $(cat -v "$base/tty.txt")"
	tty_run env NO_COLOR=1 "$FSFILTER" check "$base/good.conf" >"$base/tty-nc.txt"
	grep -q "$esc\[" "$base/tty-nc.txt" && it_fail "colours with NO_COLOR"
	tty_run "$FSFILTER" --color=never check "$base/good.conf" >"$base/tty-never.txt"
	grep -q "$esc\[" "$base/tty-never.txt" && it_fail "colours with --color=never"
else
	it_log "no script(1) pty: terminal colours not checked"
fi

it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
run_checks
it_log "ok"
