#!/usr/bin/env bash
# The example filter loaded into a live volume: its effect (deny mode, the
# first-open log), `fsfilter status` (human and --json) showing it with its
# altitude and counters, detach/attach/unload, a .so with a bad ABI version
# refused with a clear message, the control channel refused to an
# unprivileged user, and the control socket gone after unmount.
. "$(dirname "$0")/lib.sh"
it_init
[[ -f ${HELLO_SO:-} && -f ${BADABI_SO:-} ]] || it_fail "HELLO_SO/BADABI_SO not set"

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
printf 'hello world\n' >"$base/lower/data.txt"
printf 'top secret\n' >"$base/lower/secret.forbidden"
IT_LOG=$base/daemon.log
it_mount "$base/lower" "$base/mnt" --filter noop@370000
mnt=$base/mnt

run() { # run CMD...: output in $out, status in $rc
	out=$("$@" 2>&1)
	rc=$?
}

# --- exports: the binary gives filters the flt_* API and nothing else;
# the example exports only its registration ----------------------------------
if command -v nm >/dev/null; then
	# a sanitizer build adds its runtime's own interface (__asan_*, ...)
	extra=$(nm -D --defined-only "$FSFILTER" | awk '$2 ~ /^[TDRBW]$/ && $3 !~ /@/ && $3 !~ /^flt_/ &&
		$3 !~ /^__(asan|lsan|ubsan|tsan|sanitizer)_|^__odr_asan/ { print $3 }')
	[[ -z $extra ]] || it_fail "fsfilter exports more than flt_*: $extra"
	nm -D --defined-only "$FSFILTER" | grep -q ' T flt_read_file$' ||
		it_fail "fsfilter does not export flt_read_file (unused by the binary itself)"
	extra=$(nm -D --defined-only "$HELLO_SO" | awk '$2 ~ /^[TDRBW]$/ && $3 != "fsfilter_registration" &&
		$3 !~ /^__(asan|lsan|ubsan|tsan|sanitizer)_|^__odr_asan/ { print $3 }')
	[[ -z $extra ]] || it_fail "hello.so exports more than its registration: $extra"
fi

# --- load with deny ---------------------------------------------------------
run "$FSFILTER" load "$mnt" "$HELLO_SO" --args deny
((rc == 0)) || it_fail "load failed ($rc): $out"
[[ $out == *"hello attached at altitude 320000"* ]] || it_fail "load said: $out"

cat "$mnt/data.txt" >/dev/null || it_fail "reading data.txt failed with hello attached"
cat "$mnt/data.txt" >/dev/null || it_fail "second read failed"
if cat "$mnt/secret.forbidden" >/dev/null 2>"$base/err"; then
	it_fail "secret.forbidden could be read with hello:deny"
fi
grep -q "Permission denied" "$base/err" || it_fail "deny gave: $(cat "$base/err")"
if (: >"$mnt/new.forbidden") 2>/dev/null; then
	it_fail "new.forbidden could be created with hello:deny"
fi
[[ ! -e $base/lower/new.forbidden ]] || it_fail "the denied create reached the lower directory"
n=$(grep -c "hello: first open of data.txt" "$IT_LOG")
((n == 1)) || it_fail "expected one first-open line for data.txt, got $n"

# --- status, human -------------------------------------------------------------
run "$FSFILTER" status "$mnt"
((rc == 0)) || it_fail "status failed: $out"
grep -Eq '^ +370000 +noop ' <<<"$out" || it_fail "status lacks noop@370000: $out"
grep -Eq "^ +320000 +hello +deny +$HELLO_SO" <<<"$out" ||
	grep -Eq "^ +320000 +hello +deny +$(realpath "$HELLO_SO")" <<<"$out" ||
	it_fail "status lacks hello@320000 with its args and source: $out"
grep -Eq 'hello@320000:.* open [0-9]+/[0-9]+' <<<"$out" || it_fail "no open counter for hello: $out"
# without MOUNTPOINT: every volume, this one included
# other tests' volumes may come and go meanwhile (ctest -j): a volume that
# vanished between the mount table and its socket makes the exit code 1,
# so only our own volume's entry is checked here
run "$FSFILTER" status
[[ $out == *"Volume $mnt "* ]] || it_fail "status (all) lacks $mnt: $out"

# --- status, JSON --------------------------------------------------------------
"$FSFILTER" status "$mnt" --json >"$base/status.json" || it_fail "status --json failed"
python3 - "$base/status.json" "$mnt" <<'PY' || it_fail "status --json check failed"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ok"] is True, s
v = s["volume"]
assert v["mountpoint"] == sys.argv[2], v
assert v["live_callback_data"] == 0 and v["lower_inodes"] >= 1, v
inst = s["instances"]
assert [(i["filter"], i["altitude"]) for i in inst] == [("noop", 370000), ("hello", 320000)], inst
h = inst[1]
assert h["args"] == "deny" and h["source"].endswith("/hello.so"), h
assert h["pre"]["open"] >= 3 and h["post"]["open"] >= 2, h
assert h["post"]["read"] >= 1 and h["post"]["lookup"] >= 1, h
assert inst[0]["source"] == "builtin"
assert isinstance(s["operations"], list)
PY

# --- detach, attach, unload ------------------------------------------------------
run "$FSFILTER" detach "$mnt" hello
((rc == 0)) || it_fail "detach failed: $out"
cat "$mnt/secret.forbidden" >/dev/null || it_fail "still denied after detach"
run "$FSFILTER" detach "$mnt" hello
((rc == 1)) && [[ $out == *"not attached"* ]] || it_fail "second detach said ($rc): $out"
run "$FSFILTER" attach "$mnt" hello --altitude 1000 --args deny
((rc == 0)) || it_fail "attach failed: $out"
run "$FSFILTER" attach "$mnt" hello
((rc == 1)) && [[ $out == *"attached already"* ]] || it_fail "double attach said ($rc): $out"
run "$FSFILTER" unload "$mnt" noop
((rc == 1)) && [[ $out == *"built in"* ]] || it_fail "unload of a built-in said ($rc): $out"
run "$FSFILTER" unload "$mnt" hello
((rc == 0)) || it_fail "unload failed: $out"
grep -q "unloaded filter hello" "$IT_LOG" || it_fail "no unload line in the daemon log"
# attach of a NAME no longer loaded: NAME.so from the filter directories
# (here the build tree), as load NAME and mount --filter NAME do
run "$FSFILTER" attach "$mnt" hello --altitude 1000
((rc == 0)) && [[ $out == *"hello attached at altitude 1000"* ]] || it_fail "attach after unload said ($rc): $out"
source_of() { # the status --json source of the filter hello
	"$FSFILTER" status "$mnt" --json | python3 -c 'import json, sys
print([i["source"] for i in json.load(sys.stdin)["instances"] if i["filter"] == "hello"])'
}
[[ $(source_of) == "['$(realpath "$HELLO_SO")']" ]] || it_fail "attach hello loaded: $(source_of)"
run "$FSFILTER" unload "$mnt" hello
((rc == 0)) || it_fail "unload after attach from the build tree failed: $out"
# $FSFILTER_FILTER_PATH comes first; --json names the file
mkdir "$base/fdir"
cp "$HELLO_SO" "$base/fdir/hello.so"
run env FSFILTER_FILTER_PATH="$base/fdir" "$FSFILTER" attach "$mnt" hello --args deny --json
((rc == 0)) || it_fail "attach with FSFILTER_FILTER_PATH failed ($rc): $out"
python3 -c 'import json, sys
j = json.loads(sys.argv[1])
assert j["ok"] and j["filter"] == "hello" and j["path"] == sys.argv[2], j' "$out" "$base/fdir/hello.so" ||
	it_fail "attach --json from FSFILTER_FILTER_PATH said: $out"
[[ $(source_of) == "['$base/fdir/hello.so']" ]] || it_fail "attach hello (FSFILTER_FILTER_PATH) loaded: $(source_of)"
cat "$mnt/secret.forbidden" >/dev/null 2>&1 && it_fail "hello attached from FSFILTER_FILTER_PATH with deny did not deny"
run "$FSFILTER" unload "$mnt" hello
((rc == 0)) || it_fail "unload after attach from FSFILTER_FILTER_PATH failed: $out"
# neither loaded nor found: a clear error, nothing loaded
run env FSFILTER_FILTER_PATH="$base/fdir" "$FSFILTER" attach "$mnt" nosuch
((rc == 2)) && [[ $out == *"no filter 'nosuch': not built in, not loaded into this volume, and no nosuch.so in \$FSFILTER_FILTER_PATH"* ]] ||
	it_fail "attach of an unknown filter said ($rc): $out"
# a NAME.so that registers another filter is refused, nothing kept loaded
mkdir "$base/fdir2"
cp "$HELLO_SO" "$base/fdir2/other.so"
run env FSFILTER_FILTER_PATH="$base/fdir2" "$FSFILTER" attach "$mnt" other
((rc == 1)) && [[ $out == *"other.so registers the filter 'hello', not 'other'"* ]] ||
	it_fail "attach of a NAME.so registering another name said ($rc): $out"
[[ $(source_of) == "[]" ]] || it_fail "a refused attach left a filter: $(source_of)"
run "$FSFILTER" attach "$mnt" "$HELLO_SO"
((rc == 2)) && [[ $out == *"attach takes a filter's name"* ]] || it_fail "attach of a file said ($rc): $out"
[[ $(source_of) == "[]" ]] || it_fail "a refused attach left a filter: $(source_of)"

# --- a bad ABI ---------------------------------------------------------------------
run "$FSFILTER" load "$mnt" "$BADABI_SO"
((rc == 1)) || it_fail "bad ABI load exited $rc: $out"
[[ $out == *"badabi.so: filter ABI version 42, but this fsfilter supports version 1"* ]] ||
	it_fail "bad ABI message: $out"
run "$FSFILTER" load "$mnt" /etc/hostname
((rc == 1)) && [[ $out == *"cannot load"* ]] || it_fail "loading a non-object said ($rc): $out"

# --- refusals ----------------------------------------------------------------------
run setpriv --reuid=65534 --regid=65534 --clear-groups "$FSFILTER" status "$mnt"
((rc != 0)) || it_fail "status worked for uid 65534: $out"
[[ $out == *"ermission denied"* ]] || it_fail "uid 65534 refusal said: $out"
run "$FSFILTER" status "$base/lower"
((rc == 2)) && [[ $out == *"not a mounted fsfilter volume"* ]] || it_fail "status of a non-volume said ($rc): $out"

# --- the socket goes with the volume -----------------------------------------------
# the runtime dir is named after the escaped mount point path; the part
# of our temp dir name after "fsfilter-" needs no escaping
sock=$(find /run/fsfilter -maxdepth 2 -name control -path "*${base##*fsfilter-}-mnt/control" 2>/dev/null | head -1)
[[ -S $sock ]] || it_fail "no control socket under /run/fsfilter for $mnt"
[[ $(stat -c %a "$sock") == 600 ]] || it_fail "control socket mode $(stat -c %a "$sock")"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
[[ ! -e $sock ]] || it_fail "control socket $sock left after unmount"
[[ ! -e $(dirname "$sock") ]] || it_fail "runtime dir $(dirname "$sock") left after unmount"
run "$FSFILTER" status "$mnt"
((rc == 2)) || it_fail "status of an unmounted volume exited $rc: $out"

# --- --filter FILE.so at mount -------------------------------------------------------
mkdir "$base/mnt2"
it_mount "$base/lower" "$base/mnt2" --filter "$HELLO_SO@4242:deny"
if cat "$base/mnt2/secret.forbidden" >/dev/null 2>&1; then
	it_fail "--filter hello.so:deny did not deny"
fi
run "$FSFILTER" status "$base/mnt2" --json
grep -q '"altitude": 4242' <<<"$out" || it_fail "--filter FILE.so@4242 not in status: $out"
it_unmount "$base/mnt2"
run "$FSFILTER" mount "$base/lower" "$base/mnt2" -f --filter "$BADABI_SO"
((rc == 2)) && [[ $out == *"ABI version 42"* ]] || it_fail "mount with a bad ABI .so said ($rc): $out"
it_log "ok"
