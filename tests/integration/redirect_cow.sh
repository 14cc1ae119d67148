#!/usr/bin/env bash
# redirect filter, copy-on-write and hydrate policies: the first write,
# append, O_TRUNC open or truncate(2) of a copy-on-write file (lower,
# virtual, inside a virtual directory) materialises the backing content
# into the lower file, which then is an ordinary lower file for good (also
# after a remount); a reader that opened it before keeps the backing
# content; owner and mode are kept; the marker xattr is invisible through
# the volume; unlink of a materialised file shows the backing again;
# hydrate copies after the first open. Then the crash test: kill -9 of the
# daemon at several moments while a 160 MiB file is materialised; after
# each remount the lower file is either the old one or the complete copy,
# never a partial one, and the volume shows the right content.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back
mkdir -p "$lower/d" "$mnt" "$back/tree/sub"
head -c 3000000 /dev/urandom >"$back/big.bin"
printf 'backing content\n' >"$back/small.txt"
printf 'lower old content\n' >"$lower/ex.txt"
chown 1000:1001 "$lower/ex.txt" && chmod 640 "$lower/ex.txt"
printf 'lower trunc\n' >"$lower/tr.txt"
printf 'lower ro\n' >"$lower/ro.txt"
printf 'tree a\n' >"$back/tree/a.txt"
printf 'tree sub b\n' >"$back/tree/sub/b.txt"
cow=policy=copy-on-write
args="rule=/ex.txt=>$back/small.txt,$cow;rule=/tr.txt=>$back/small.txt,$cow"
args+=";rule=/v.bin=>$back/big.bin,$cow;rule=/t/=>$back/tree/,$cow"
args+=";rule=/ro.txt=>$back/small.txt;rule=/h.bin=>$back/big.bin,policy=hydrate"
args+=";rule=/vt.txt=>$back/small.txt,$cow"
it_mount "$lower" "$mnt" --filter "redirect:$args"

# a reader that opens before the copy keeps the backing content
exec 7<"$mnt/ex.txt"
[[ $(cat "$mnt/ex.txt") == "backing content" ]] || it_fail "cow before write"
echo appended >>"$mnt/ex.txt" || it_fail "append to a cow file"
[[ $(cat "$mnt/ex.txt") == $'backing content\nappended' ]] || it_fail "cow content: $(cat "$mnt/ex.txt")"
[[ $(cat "$lower/ex.txt") == $'backing content\nappended' ]] || it_fail "cow lower content"
[[ $(stat -c %u:%g:%a "$lower/ex.txt") == 1000:1001:640 ]] || it_fail "owner/mode not kept: $(stat -c %u:%g:%a "$lower/ex.txt")"
[[ $(stat -c %s "$mnt/ex.txt") == 25 ]] || it_fail "cow size in stat"
[[ $(cat <&7) == "backing content" ]] || it_fail "an earlier handle lost its content"
exec 7<&-
getfattr -d -m - "$lower/ex.txt" 2>/dev/null | grep -q 'trusted.fsfilter.redirect="v1 cow lower"' ||
	it_fail "no marker in the lower file"
getfattr -d -m - "$mnt/ex.txt" 2>/dev/null | grep -q fsfilter && it_fail "marker visible through the volume"
getfattr -n trusted.fsfilter.redirect "$mnt/ex.txt" >/dev/null 2>&1 && it_fail "marker readable"
setfattr -x trusted.fsfilter.redirect "$mnt/ex.txt" 2>/dev/null && it_fail "marker removable"
echo again >>"$mnt/ex.txt" && [[ $(tail -n1 "$lower/ex.txt") == again ]] || it_fail "second write"

# truncate(2) and O_TRUNC
truncate -s 4 "$mnt/tr.txt" || it_fail "truncate(2) of a cow file"
[[ $(cat "$mnt/tr.txt") == back ]] || it_fail "truncate content: $(cat "$mnt/tr.txt")"
echo fresh >"$mnt/vt.txt" || it_fail "O_TRUNC open of a virtual cow file"
[[ $(cat "$mnt/vt.txt") == fresh && $(cat "$lower/vt.txt") == fresh ]] || it_fail "O_TRUNC content"

# a virtual file, and one in a virtual directory
cmp "$mnt/v.bin" "$back/big.bin" || it_fail "virtual before"
printf 'XYZ' | dd of="$mnt/v.bin" bs=1 seek=1000 conv=notrunc status=none || it_fail "write into virtual"
cp "$back/big.bin" "$base/expect" && printf 'XYZ' | dd of="$base/expect" bs=1 seek=1000 conv=notrunc status=none
cmp "$mnt/v.bin" "$base/expect" && cmp "$lower/v.bin" "$base/expect" || it_fail "virtual cow content"
echo changed >"$mnt/t/sub/b.txt" || it_fail "write in a virtual directory"
[[ $(cat "$lower/t/sub/b.txt") == changed && $(cat "$mnt/t/sub/b.txt") == changed ]] || it_fail "cow in a virtual dir"
[[ $(cat "$mnt/t/a.txt") == "tree a" ]] || it_fail "sibling in the virtual tree"
[[ ! -e $lower/t/a.txt ]] || it_fail "sibling materialised"
[[ $(ls "$mnt/t/sub") == b.txt ]] || it_fail "listing after cow"

# readonly rules still refuse; namespace operations on unmaterialised cow
if echo x 2>/dev/null >>"$mnt/ro.txt"; then it_fail "write to a readonly file"; fi
mv "$mnt/t/a.txt" "$mnt/t/a2" 2>/dev/null && it_fail "rename of an unmaterialised cow file"
# a materialised file is ordinary: rename and unlink work; after the
# unlink the rule shows the backing content again
mv "$mnt/tr.txt" "$mnt/tr2.txt" || it_fail "rename of a materialised file"
[[ $(cat "$mnt/tr2.txt") == back ]] || it_fail "renamed content"
rm "$mnt/vt.txt" || it_fail "unlink of a materialised file"
[[ $(cat "$mnt/vt.txt") == "backing content" ]] || it_fail "backing after unlink"

# hydrate: the first open starts the copy in the background (reads are
# served meanwhile); `fsfilter redirect hydrate` waits for it
[[ ! -e $lower/h.bin ]] || it_fail "hydrated early"
cmp "$mnt/h.bin" "$back/big.bin" || it_fail "hydrate content"
"$FSFILTER" redirect hydrate "$mnt" /h.bin || it_fail "waiting for the hydration"
cmp "$lower/h.bin" "$back/big.bin" || it_fail "hydrate lower copy"

# stays materialised after a remount (the rules are the same)
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
it_mount "$lower" "$mnt" --filter "redirect:$args"
[[ $(head -n1 "$mnt/ex.txt") == "backing content" && $(tail -n1 "$mnt/ex.txt") == again ]] ||
	it_fail "after remount: $(cat "$mnt/ex.txt")"
cmp "$mnt/v.bin" "$base/expect" || it_fail "virtual after remount"
ls -a "$lower" | grep -q fsfilter-redirect && it_fail "temp files left: $(ls -a "$lower")"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"

# ---- crash test --------------------------------------------------------------
head -c $((160 << 20)) /dev/urandom >"$back/large.bin"
printf 'old lower large\n' >"$lower/large.bin"
old_sum=$(sha256sum <"$lower/large.bin")
big_sum=$(sha256sum <"$back/large.bin")
# 160 MiB at 20 ms per MiB: at least 3.2 s of copying
crash_args="rule=/large.bin=>$back/large.bin,$cow;copy_delay_us=20000"
check_state() {	# the lower file is the old one or the complete copy
	local s
	s=$(sha256sum <"$lower/large.bin")
	if [[ $s == "$old_sum" ]]; then
		getfattr -n trusted.fsfilter.redirect "$lower/large.bin" >/dev/null 2>&1 &&
			it_fail "$1: old file with a marker"
		echo old
	elif [[ $s == "$big_sum" ]]; then
		getfattr -n trusted.fsfilter.redirect "$lower/large.bin" >/dev/null 2>&1 ||
			it_fail "$1: complete copy without marker"
		echo new
	else
		it_fail "$1: partial lower file ($(stat -c %s "$lower/large.bin") bytes)"
	fi
}
for delay in 0.3 1.5 2.8; do
	it_mount "$lower" "$mnt" --filter "redirect:$crash_args"
	pid=$IT_PID
	( echo tail >>"$mnt/large.bin" ) 2>/dev/null &
	writer=$!
	sleep "$delay"
	find "$lower" -name '.fsfilter-redirect-*.tmp' | grep -q . || it_fail "no temp file at $delay s"
	kill -KILL "$pid"
	wait "$writer" 2>/dev/null
	wait "$pid" 2>/dev/null
	fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt"
	state=$(check_state "kill at $delay s") || exit 1
	[[ $state == old ]] || it_fail "kill at $delay s: already committed"
	# remount: the volume still shows the backing content (the old state),
	# and the temp file the kill left is gone (swept at instance setup,
	# with the spool), before any access
	it_mount "$lower" "$mnt" --filter "redirect:$crash_args"
	t=$(find "$lower" -name '.fsfilter-redirect-*')
	[[ -z $t ]] || it_fail "kill at $delay s: left after the remount: $t"
	[[ $(stat -c %s "$mnt/large.bin") == $((160 << 20)) ]] || it_fail "size after crash"
	[[ $(sha256sum <"$mnt/large.bin") == "$big_sum" ]] || it_fail "content after crash"
	it_unmount "$mnt"
	it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
done
# and a complete run after the crashes: the leftover temp file goes
it_mount "$lower" "$mnt" --filter "redirect:rule=/large.bin=>$back/large.bin,$cow"
echo tail >>"$mnt/large.bin" || it_fail "materialise after crashes"
getfattr -n trusted.fsfilter.redirect "$lower/large.bin" >/dev/null 2>&1 || it_fail "final marker"
(cat "$back/large.bin"; echo tail) | cmp - "$lower/large.bin" || it_fail "final content"
find "$lower" -name '.fsfilter-redirect-*.tmp' | grep -q . && it_fail "leftover temp file"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
it_log ok
