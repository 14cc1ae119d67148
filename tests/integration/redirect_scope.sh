#!/usr/bin/env bash
# redirect filter: per-process scope (docs/redirect.md, "Per-process
# scope") and the filter's figures in `fsfilter status`.
#  - except=indexer: a process named indexer (a copy of cat) reads and
#    stats the lower file, cat/stat/wc the backing content, alternating
#    and with a handle of each kind open at once (no cached name,
#    attribute or page leaks from one to the other); mmap MAP_SHARED and
#    MAP_PRIVATE from both sides, in turn and mapped at the same time;
#  - only=cat+ls on a virtual file: ls lists it and cat reads it, a copy
#    of ls named lsx does not list it, indexer and stat get ENOENT;
#  - only=pid:$$: this shell's own reads see the backing content, its
#    children the lower file;
#  - a readonly rule binds only the processes it applies to (indexer may
#    write the lower file);
#  - a scoped rule added and removed at run time over a cached file;
#  - `fsfilter redirect list` shows the scope; `fsfilter status` shows the
#    rule counts and, while a hydrate rule copies a 24 MiB file, the copy
#    in progress with its bytes copied, then the finished hydration.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back bin=$base/bin
mkdir -p "$lower" "$mnt" "$back" "$bin"
cp "$(command -v cat)" "$bin/indexer"
cp "$(command -v ls)" "$bin/lsx"
cp "$(command -v stat)" "$bin/istat"	# comm "istat": not in any scope
printf 'lower content\n' >"$lower/data.txt"
printf 'backing content, longer\n' >"$back/data"
printf 'virtual\n' >"$back/virt"
printf 'lower p\n' >"$lower/p.txt"
printf 'lower w\n' >"$lower/w.txt"
head -c $((24 << 20)) /dev/urandom >"$back/big"
it_mount "$lower" "$mnt" --filter "redirect:copy_delay_us=150000;rule=/data.txt=>$back/data,except=indexer;rule=/virt.txt=>$back/virt,only=cat+ls;rule=/p.txt=>$back/data,only=pid:$$;rule=/w.txt=>$back/data,except=indexer;rule=/h.bin=>$back/big,policy=hydrate"

B='backing content, longer' L='lower content'
for i in 1 2 3; do
	[[ $(cat "$mnt/data.txt") == "$B" ]] || it_fail "round $i: cat read '$(cat "$mnt/data.txt")'"
	[[ $("$bin/indexer" "$mnt/data.txt") == "$L" ]] ||
		it_fail "round $i: indexer read '$("$bin/indexer" "$mnt/data.txt")'"
	[[ $(stat -c %s "$mnt/data.txt") == 24 ]] || it_fail "round $i: stat size $(stat -c %s "$mnt/data.txt")"
	[[ $(wc -c <"$mnt/data.txt") == 24 ]] || it_fail "round $i: wc"
	[[ $("$bin/indexer" "$mnt/data.txt" | wc -c) == 14 ]] || it_fail "round $i: indexer size"
done
# handles of both kinds open at once: this shell (backing) holds fd 7
# while indexer reads, then reads on
exec 7<"$mnt/data.txt"
[[ $("$bin/indexer" "$mnt/data.txt") == "$L" ]] || it_fail "indexer with a backing handle open"
[[ $(cat <&7) == "$B" ]] || it_fail "backing handle after indexer"
exec 7<&-
# and the other way round: indexer holds the file open (reading a fifo
# first), cat reads meanwhile
mkfifo "$base/fifo"
"$bin/indexer" "$base/fifo" "$mnt/data.txt" >"$base/idx.out" &
ipid=$!
exec 8>"$base/fifo"
[[ $(cat "$mnt/data.txt") == "$B" ]] || it_fail "cat while indexer holds the file"
exec 8>&-
it_wait_pid "$ipid" 10 || it_fail "indexer failed"
[[ $(cat "$base/idx.out") == "$L" ]] || it_fail "indexer after cat: $(cat "$base/idx.out")"
it_log "ok: except=indexer"

# mmap of the scoped file, MAP_SHARED and MAP_PRIVATE, from both sides:
# one after the other, then at once (each side maps and reads, the other
# maps and reads, then each faults its pages in again): the two views
# have nodes (and page caches) of their own
[[ -n ${REDIRTEST:-} && -x $REDIRTEST ]] || it_fail "REDIRTEST not set"
mkdir "$bin/m"
cp "$REDIRTEST" "$bin/m/indexer"	# comm "indexer": out of scope
# wait (bounded) until file $1 holds at least $2 bytes
wait_size() {
	local i
	for ((i = 0; i < 200; i++)); do
		(($(stat -c %s "$1") >= $2)) && return 0
		sleep 0.05
	done
	return 1
}
for mode in shared private; do
	for i in 1 2; do
		[[ $("$REDIRTEST" map $mode "$mnt/data.txt") == "$B" ]] ||
			it_fail "map $mode in scope: '$("$REDIRTEST" map $mode "$mnt/data.txt")'"
		[[ $("$bin/m/indexer" map $mode "$mnt/data.txt") == "$L" ]] ||
			it_fail "map $mode out of scope: '$("$bin/m/indexer" map $mode "$mnt/data.txt")'"
	done
	mkfifo "$base/f1.$mode" "$base/f2.$mode"
	"$REDIRTEST" map $mode "$mnt/data.txt" "$base/f1.$mode" >"$base/in.$mode" &
	p1=$!
	wait_size "$base/in.$mode" 24 || it_fail "map $mode: in-scope reader did not start"
	"$bin/m/indexer" map $mode "$mnt/data.txt" "$base/f2.$mode" >"$base/out.$mode" &
	p2=$!
	wait_size "$base/out.$mode" 14 || it_fail "map $mode: out-of-scope reader did not start"
	: >"$base/f1.$mode"	# opens the fifo (blocks until p1 reads), closes
	it_wait_pid "$p1" 10 || it_fail "map $mode: in-scope reader failed"
	: >"$base/f2.$mode"
	it_wait_pid "$p2" 10 || it_fail "map $mode: out-of-scope reader failed"
	[[ $(cat "$base/in.$mode") == "$B"$'\n'"$B" ]] ||
		it_fail "map $mode at once, in scope read: $(cat "$base/in.$mode")"
	[[ $(cat "$base/out.$mode") == "$L"$'\n'"$L" ]] ||
		it_fail "map $mode at once, out of scope read: $(cat "$base/out.$mode")"
done
it_log "ok: mmap shared and private from both sides"

# only=cat+ls on a virtual file
[[ $(cat "$mnt/virt.txt") == virtual ]] || it_fail "cat of the virtual file"
ls "$mnt" | grep -qx virt.txt || it_fail "ls does not list the virtual file"
"$bin/lsx" "$mnt" | grep -qx virt.txt && it_fail "lsx lists the virtual file"
"$bin/indexer" "$mnt/virt.txt" 2>"$base/err" && it_fail "indexer read the virtual file"
grep -q "No such file" "$base/err" || it_fail "indexer: $(cat "$base/err")"
"$bin/istat" "$mnt/virt.txt" >/dev/null 2>&1 && it_fail "istat found the virtual file"
[[ $(cat "$mnt/virt.txt") == virtual ]] || it_fail "cat after the others"
it_log "ok: only=cat+ls (virtual)"

# only=pid:$$ (this shell; its children are other processes)
read -r line <"$mnt/p.txt"
[[ $line == "$B" ]] || it_fail "the shell read '$line'"
[[ $(cat "$mnt/p.txt") == "lower p" ]] || it_fail "a child read '$(cat "$mnt/p.txt")'"
read -r line <"$mnt/p.txt"
[[ $line == "$B" ]] || it_fail "the shell again: '$line'"
it_log "ok: only=pid"

# readonly binds only the processes the rule applies to
echo more >>"$mnt/w.txt" 2>/dev/null && it_fail "bash appended to a readonly redirected file"
"$bin/indexer" "$mnt/w.txt" >/dev/null || it_fail "indexer read w.txt"
# tee under the name indexer (in a directory of its own)
mkdir "$bin/tee"
cp "$(command -v tee)" "$bin/tee/indexer"
printf 'written by the indexer\n' | "$bin/tee/indexer" -a "$mnt/w.txt" >/dev/null ||
	it_fail "indexer (tee) could not append to the lower file"
[[ $(cat "$lower/w.txt") == $'lower w\nwritten by the indexer' ]] || it_fail "lower w.txt: $(cat "$lower/w.txt")"
[[ $(cat "$mnt/w.txt") == "$B" ]] || it_fail "cat of w.txt after the indexer wrote"
it_log "ok: write policy per process"

# a scoped rule added at run time over a file the kernel has cached
printf 'lower late\n' >"$lower/late.txt"
[[ $(cat "$mnt/late.txt") == "lower late" ]] || it_fail "late.txt before the rule"
"$FSFILTER" redirect add "$mnt" "/late.txt=>$back/data,except=indexer" || it_fail "add a scoped rule"
[[ $(cat "$mnt/late.txt") == "$B" && $(stat -c %s "$mnt/late.txt") == 24 ]] ||
	it_fail "cat after adding a scoped rule: $(cat "$mnt/late.txt")"
[[ $("$bin/indexer" "$mnt/late.txt") == "lower late" ]] || it_fail "indexer after adding a scoped rule"
"$FSFILTER" redirect remove "$mnt" /late.txt || it_fail "remove the scoped rule"
[[ $(cat "$mnt/late.txt") == "lower late" ]] || it_fail "cat after removing the scoped rule"
it_log "ok: scoped rule at run time"

# rules list shows the scope
"$FSFILTER" redirect list "$mnt" >"$base/list"
grep -qx "/data.txt=>$back/data,policy=readonly,errno=EACCES,except=comm:indexer" "$base/list" ||
	{ cat "$base/list" >&2; it_fail "list does not show the scope"; }
grep -qx "/p.txt=>$back/data,policy=readonly,errno=EACCES,only=pid:$$" "$base/list" ||
	it_fail "list: pid scope"
"$FSFILTER" redirect add "$mnt" "/z=>$back/data,only=pid:x" 2>"$base/err" && it_fail "bad scope accepted"
grep -q "pid:N" "$base/err" || it_fail "bad scope message: $(cat "$base/err")"

# fig KEY: a redirect figure of `fsfilter status --json` (it_figure)
fig() { it_figure "$mnt" redirect "$1"; }
[[ $(fig rules) == 5 && $(fig rules.scoped) == 4 && $(fig rules.hydrate) == 1 ]] ||
	it_fail "status: rules $(fig rules) scoped $(fig rules.scoped) hydrate $(fig rules.hydrate)"
[[ $(fig in_progress) == 0 && $(fig materialised.hydrate) == 0 ]] || it_fail "status before hydration"
# hydration of 24 MiB at 150 ms per MiB (copy_delay_us): ~3.6 s in
# progress; polled for at most 20 s, or until the copy is over (a poll,
# status plus python, can take a second on a loaded machine)
cat "$mnt/h.bin" >"$base/h.out" &
hpid=$!
seen=
t0=$SECONDS
while ((SECONDS - t0 < 20)); do
	"$FSFILTER" status "$mnt" --json >"$base/st.json"
	if python3 - "$base/st.json" <<'PY'; then
import json, sys
st = json.load(open(sys.argv[1]))
f = [i for i in st["instances"] if i["filter"] == "redirect"][0]["figures"]
ok = (f["in_progress"] == 1 and f["in_progress.path"] == "/h.bin"
      and f["in_progress.policy"] == "hydrate"
      and f["in_progress.bytes_total"] == 24 << 20
      and 0 < f["in_progress.bytes_copied"] < 24 << 20)
over = f["in_progress"] == 0 and f.get("materialised.hydrate", 0) >= 1
sys.exit(0 if ok else 2 if over else 1)
PY
		seen=1
		break
	elif (($? == 2)); then
		break	# over before a poll saw it
	fi
	sleep 0.05
done
[[ $seen ]] || { cat "$base/st.json" >&2; it_fail "status never showed the hydration in progress"; }
"$FSFILTER" status "$mnt" | grep -Eq '^  in_progress\.bytes_copied +[0-9]+' ||
	it_log "(the hydration finished before the human-readable status)"
it_wait_pid "$hpid" 30 || it_fail "cat of the hydrated file failed"
# the cat is served from the backing file while the copy runs: wait for it
"$FSFILTER" redirect hydrate "$mnt" /h.bin || it_fail "waiting for the hydration"
cmp -s "$base/h.out" "$back/big" || it_fail "hydrated content differs"
[[ $(fig in_progress) == 0 && $(fig materialised.hydrate) == 1 && $(fig materialised.bytes) == $((24 << 20)) ]] ||
	it_fail "status after hydration: in_progress $(fig in_progress) hydrate $(fig materialised.hydrate) bytes $(fig materialised.bytes)"
"$FSFILTER" status "$mnt" >"$base/st.txt"
grep -Eq '^  rules\.scoped +4$' "$base/st.txt" || { cat "$base/st.txt" >&2; it_fail "human status: no figures"; }
it_log "ok: status figures"

it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"
it_log "ok"
