#!/usr/bin/env bash
# redirect filter, hydrate policy with a large file whose copy is slowed
# down (copy_delay_us): the first open starts a background copy and reads
# the backing content at once (a reader of the first and the last MiB is
# done while the copy runs); a second open joins the copy; `fsfilter
# status` shows its bytes copied growing; two files hydrate at the same
# time; a write waits for the copy and lands in the complete file; `fsfilter
# redirect cancel` stops a copy (no temp file, the file still reads as the
# backing content, an earlier handle too) and `fsfilter redirect hydrate`
# then copies it completely (the lower file equals the backing file byte for
# byte); unmount and detach during a copy cancel it cleanly; kill -9 during a copy
# leaves, after a remount, a file that is a redirect or complete, never
# partial, and no temp file (the spool is swept at setup, before any
# access) while a user's file of the temp pattern stays; a directory of the
# spool's name without the marker is left alone. $1: more redirect clauses
# (fastpath=off: reads served by the daemon).
. "$(dirname "$0")/lib.sh"
it_init
extra=${1:-fastpath=on}

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back
mkdir -p "$lower/d" "$mnt" "$back"
# 512 MiB, sparse, with random MiBs at the start, the middle and the end
big=$back/big.bin
truncate -s 512M "$big"
for mib in 0 1 200 511; do
	head -c 1M /dev/urandom | dd of="$big" bs=1M seek=$mib conv=notrunc status=none
done
head -c 64M /dev/urandom >"$back/w.bin"
printf 'old lower w\n' >"$lower/w.bin"
# 512 MiB at 20 ms per MiB: at least 10 s per complete copy (the complete
# copy below runs on a mount without the delay)
slow="copy_delay_us=20000;"
args="${slow}hydrate_jobs=2;rule=/big.bin=>$big,policy=hydrate"
args+=";rule=/w.bin=>$back/w.bin,policy=hydrate;rule=/d/u.bin=>$big,policy=hydrate"
args+=";rule=/x.bin=>$big,policy=hydrate"
args+=";$extra"
it_mount "$lower" "$mnt" --filter "redirect:$args"

# fig KEY: a redirect figure of `fsfilter status --json` (it_figure)
fig() { it_figure "$mnt" redirect "$1"; }
# copies: "PATH STATE COPIED TOTAL RATE WAITERS" per copy queued or running
copies() {
	"$FSFILTER" status "$mnt" --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
f = [i for i in st["instances"] if i["filter"] == "redirect"][0]["figures"]
i = 0
while "copy.%d.path" % i in f:
    k = "copy.%d." % i
    print(f[k + "path"], f[k + "state"], f[k + "bytes_copied"],
          f[k + "bytes_total"], f[k + "rate"], f[k + "waiters"])
    i += 1'
}
no_temp() {	# no temp file, and no spool (between mounts: no trace)
	local t
	t=$(find "$lower" -path "$lower/keep" -prune -o -name '.fsfilter-redirect-*' -print |
		grep -v "^$lower/.fsfilter-redirect-spool\$" | head -n3)
	[[ -z $t ]] || it_fail "$1: temp file(s) left: $t"
	[[ ${2:-} == mounted || ! -e $lower/.fsfilter-redirect-spool ]] || it_fail "$1: spool left"
}
# wait_copy PATH yes|no: until a copy of PATH is (not) listed, 20 s at most
wait_copy() {
	local i
	for ((i = 0; i < 200; i++)); do
		if copies | grep -q "^$1 "; then
			[[ $2 == yes ]] && return 0
		else
			[[ $2 == no ]] && return 0
		fi
		sleep 0.1
	done
	it_fail "copy of $1 listed: not $2 after 20 s"
}

# ---- readers are not blocked behind the copy ------------------------------
head -c 1M "$mnt/big.bin" | cmp -s - <(head -c 1M "$big") || it_fail "first MiB"
dd if="$mnt/big.bin" bs=1M skip=511 count=1 status=none |
	cmp -s - <(dd if="$big" bs=1M skip=511 count=1 status=none) || it_fail "last MiB"
# both reads are complete while the copy still runs
read -r p state copied total rate waiters < <(copies | grep '^/big.bin ') || it_fail "no copy after the reads"
[[ $state == hydrating && $total == $((512 << 20)) ]] || it_fail "copy: $p $state $copied/$total"
((copied < total)) || it_fail "the copy was done before the reads returned"
[[ ! -e $lower/big.bin ]] || it_fail "lower file before the copy is done"
it_log "ok: reads served during the copy ($copied of $total bytes copied)"
# the copy's temp file is in the volume's spool directory at the lower
# root; both are hidden from the volume
spool=.fsfilter-redirect-spool
tmpname=$(ls -a "$lower/$spool" 2>/dev/null | grep '^\.fsfilter-redirect-.*\.tmp$' | head -n1)
[[ -n $tmpname ]] || it_fail "no temp file in the lower spool during the copy: $(ls -aR "$lower")"
getfattr -n trusted.fsfilter.redirect "$lower/$spool" 2>/dev/null | grep -q 'v1 spool' ||
	it_fail "the spool has no marker"
ls -a "$mnt" | grep -q fsfilter-redirect && it_fail "temp file or spool listed: $(ls -a "$mnt")"
ls -la "$mnt" >/dev/null || it_fail "ls -la"
find "$mnt" -name '.fsfilter*' | grep -q . && it_fail "find shows the temp file or the spool"
stat "$mnt/$spool" >/dev/null 2>&1 && it_fail "spool visible to stat"
stat "$mnt/$spool/$tmpname" >/dev/null 2>&1 && it_fail "temp file visible to stat"
touch "$mnt/.fsfilter-redirect-0123456789abcdef.tmp" 2>/dev/null && it_fail "temp name creatable"
mkdir "$mnt/$spool" 2>/dev/null && it_fail "spool name creatable"

# a second open joins the copy
head -c 4096 "$mnt/big.bin" >/dev/null || it_fail "second open"
[[ $(fig hydrations.started) == 1 ]] || it_fail "hydrations.started $(fig hydrations.started)"
(($(fig hydrations.joined) >= 1)) || it_fail "hydrations.joined $(fig hydrations.joined)"
[[ $(copies | grep -c '^/big.bin ') == 1 ]] || it_fail "two copies of one file"

# progress grows
grown=
for ((i = 0; i < 50; i++)); do
	sleep 0.1
	read -r p state c2 total rate waiters < <(copies | grep '^/big.bin ') || it_fail "copy gone"
	if ((c2 > copied && rate > 0)); then grown=1; break; fi
done
[[ $grown ]] || it_fail "progress did not grow: $copied then $c2 (rate $rate)"
"$FSFILTER" status "$mnt" | grep -Eq '^  copy\.0\.bytes_copied +[0-9]+' ||
	it_fail "human status: no copy figures"

# two files at a time (hydrate_jobs=2), and a write during the copy waits
# for it and lands in the complete file
head -c 1 "$mnt/w.bin" >/dev/null || it_fail "open w.bin"
# until a worker took w.bin's copy (else the writer below would run it)
for ((i = 0; i < 200; i++)); do
	[[ $(copies | awk '$1 == "/w.bin" { print $2 }') != queued ]] && break
	sleep 0.05
done
echo tail >>"$mnt/w.bin" || it_fail "append during hydration"
(cat "$back/w.bin"; echo tail) | cmp -s - "$lower/w.bin" || it_fail "w.bin: lower file is not backing + write"
(cat "$back/w.bin"; echo tail) | cmp -s - "$mnt/w.bin" || it_fail "w.bin through the volume"
getfattr -n trusted.fsfilter.redirect "$lower/w.bin" >/dev/null 2>&1 || it_fail "w.bin: no marker"
# big.bin's copy (>= 5 s) was still running when w.bin's started, and
# hydrate_jobs=2 bounds them
[[ $(fig hydrations.concurrent_max) == 2 ]] || it_fail "hydrations.concurrent_max $(fig hydrations.concurrent_max), not 2"
it_log "ok: join, progress, two copies, a write during the copy"

# ---- cancel -------------------------------------------------------------
exec 7<"$mnt/big.bin"
"$FSFILTER" redirect cancel "$mnt" /big.bin || it_fail "cancel"
wait_copy /big.bin no
no_temp "after cancel" mounted
[[ ! -e $lower/big.bin ]] || it_fail "a lower file after cancel"
[[ $(fig materialised.cancelled) == 1 ]] || it_fail "materialised.cancelled $(fig materialised.cancelled)"
head -c 1M <&7 | cmp -s - <(head -c 1M "$big") || it_fail "a handle opened before the cancel"
exec 7<&-
"$FSFILTER" redirect cancel "$mnt" /big.bin 2>"$base/err" && it_fail "cancel without a copy"
grep -q "no copy" "$base/err" || it_fail "cancel message: $(cat "$base/err")"
"$FSFILTER" redirect hydrate "$mnt" /w.bin >/dev/null || it_fail "hydrate of a hydrated file"
"$FSFILTER" redirect hydrate "$mnt" /nothing 2>/dev/null && it_fail "hydrate without a rule"
# a writer waiting for a copy that is cancelled gets ECANCELED, nothing
# written
head -c 1 "$mnt/x.bin" >/dev/null || it_fail "open x.bin"
(echo tail >>"$mnt/x.bin") 2>"$base/werr" &
wpid=$!
for ((i = 0; i < 200; i++)); do
	(($(copies | awk '$1 == "/x.bin" { print $6 }') >= 1)) && break
	sleep 0.05
done
"$FSFILTER" redirect cancel "$mnt" /x.bin || it_fail "cancel x.bin"
wait "$wpid" && it_fail "a write whose copy was cancelled succeeded"
grep -qi "operation canceled" "$base/werr" || it_fail "the writer's error: $(cat "$base/werr")"
wait_copy /x.bin no
no_temp "after cancelling a copy a writer waited for" mounted
[[ ! -e $lower/x.bin ]] || it_fail "x.bin: a lower file after the cancel"
head -c 1M "$mnt/x.bin" | cmp -s - <(head -c 1M "$big") || it_fail "x.bin after the cancel"
it_log "ok: cancel"

# ---- a complete hydration, waited for by the CLI ----------------------------
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $?"
[[ ! -e $lower/big.bin ]] || it_fail "big.bin: a lower file after the cancel"
it_mount "$lower" "$mnt" --filter "redirect:${args#"$slow"}"
"$FSFILTER" redirect hydrate "$mnt" /big.bin || it_fail "fsfilter redirect hydrate"
cmp "$lower/big.bin" "$big" || it_fail "the lower file differs from the backing file"
getfattr -n trusted.fsfilter.redirect "$lower/big.bin" 2>/dev/null | grep -q 'v1 hydrate virtual' ||
	it_fail "big.bin: no marker"
cmp "$mnt/big.bin" "$big" || it_fail "big.bin through the volume after hydration"
no_temp "after hydration" mounted
[[ $(fig in_progress) == 0 && $(fig materialised.hydrate) == 1 ]] ||
	it_fail "status after: in_progress $(fig in_progress) hydrate $(fig materialised.hydrate)"
it_log "ok: hydrate through the CLI"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $?"

# ---- unmount during a copy cancels it ---------------------------------------
it_mount "$lower" "$mnt" --filter "redirect:$args"
head -c 1M "$mnt/d/u.bin" | cmp -s - <(head -c 1M "$big") || it_fail "u.bin first MiB"
wait_copy /d/u.bin yes
sleep 0.3
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $? after an unmount during a copy"
no_temp "after unmount"
[[ ! -e $lower/d/u.bin ]] || it_fail "u.bin: a lower file after an unmount during its copy"
grep -q 'copy of /d/u.bin cancelled' "$IT_LOG" || it_fail "no cancel in the daemon log"

# ---- detach during a copy cancels it -----------------------------------------
it_mount "$lower" "$mnt" --filter "redirect:$args"
head -c 1 "$mnt/d/u.bin" >/dev/null || it_fail "u.bin open before detach"
wait_copy /d/u.bin yes
"$FSFILTER" detach "$mnt" redirect >/dev/null || it_fail "detach during a copy"
no_temp "after detach"
[[ ! -e $lower/d/u.bin ]] || it_fail "u.bin: a lower file after a detach during its copy"
"$FSFILTER" status "$mnt" --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
sys.exit(1 if st["volume"]["live_callback_data"] else 0)' || it_fail "callback data left after detach"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $?"

# ---- kill -9 during a copy --------------------------------------------------
it_mount "$lower" "$mnt" --filter "redirect:$args"
pid=$IT_PID
head -c 1 "$mnt/d/u.bin" >/dev/null || it_fail "u.bin open"
for ((i = 0; i < 100; i++)); do
	read -r p state copied total rate waiters < <(copies | grep '^/d/u.bin ')
	((${copied:-0} > 0)) && break
	sleep 0.05
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt"
if [[ -e $lower/d/u.bin ]]; then
	cmp -s "$lower/d/u.bin" "$big" || it_fail "kill -9: partial lower file ($(stat -c %s "$lower/d/u.bin") bytes)"
	it_log "(the copy had committed before the kill)"
else
	# the kill left the copy's temp file (in the spool)
	find "$lower" -name '.fsfilter-redirect-*.tmp' | grep -q . ||
		it_fail "kill -9 left no temp file: $(ls -aR "$lower" | head)"
fi
# a user's files with names of the pattern, elsewhere, are never touched
mkdir -p "$lower/keep"
printf 'mine\n' >"$lower/keep/.fsfilter-redirect-0123456789abcdef.tmp"
it_mount "$lower" "$mnt" --filter "redirect:$args"
# the remount removed it before any access to the file or its directory
# (before: it stayed until the next copy of that name)
no_temp "after the remount that followed kill -9"
[[ $(cat "$lower/keep/.fsfilter-redirect-0123456789abcdef.tmp") == mine ]] ||
	it_fail "a user's file of the temp pattern was touched"
grep -q 'removed 1 temp file(s) of copies interrupted by a crash' "$IT_LOG" ||
	[[ -e $lower/d/u.bin ]] || it_fail "no sweep in the daemon log"
[[ $(stat -c %s "$mnt/d/u.bin") == $((512 << 20)) ]] || it_fail "u.bin size after the crash"
head -c 1M "$mnt/d/u.bin" | cmp -s - <(head -c 1M "$big") || it_fail "u.bin after the crash"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $?"
no_temp "at the end"

# ---- a directory of the spool's name that is not ours ---------------------
# (no marker: a user's) is never emptied or used: copies then keep their
# temp file next to the file, and commit all the same
spool=$lower/.fsfilter-redirect-spool
mkdir "$spool"
printf 'mine\n' >"$spool/.fsfilter-redirect-0123456789abcdef.tmp"
printf 'small backing\n' >"$back/small"
it_mount "$lower" "$mnt" --filter "redirect:rule=/small=>$back/small,policy=hydrate;$extra"
"$FSFILTER" redirect hydrate "$mnt" /small || it_fail "hydrate with a foreign spool"
[[ $(cat "$lower/small") == "small backing" ]] || it_fail "small not hydrated next to the file"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 20 || it_fail "daemon exited with $?"
[[ $(cat "$spool/.fsfilter-redirect-0123456789abcdef.tmp" 2>/dev/null) == mine ]] ||
	it_fail "a user's directory of the spool's name was emptied"
grep -q 'is not the filter.s spool (no marker): left alone' "$IT_LOG" || it_fail "no warning about the foreign spool"
rm -r "$spool"
no_temp "after the foreign spool"
it_log "ok ($extra)"
