#!/usr/bin/env bash
# redirect filter, readonly policy: listings and stat show the backing
# sizes, every read path returns the backing content byte for byte (random
# offsets and lengths, >4 GiB sparse backing, mmap, sendfile,
# copy_file_range, cp/sha256sum/tar), 256 concurrent readers, writes fail
# with EACCES (EROFS where configured), a missing backing file gives EIO.
# Run with ARG "fastpath=off" to force the daemon-served read path.
. "$(dirname "$0")/lib.sh"
it_init
[[ -n ${REDIRTEST:-} && -x $REDIRTEST ]] || it_fail "REDIRTEST not set"
extra=${1:-fastpath=on}

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back
mkdir -p "$lower/d" "$mnt" "$back/tree/sub"
head -c 3000000 /dev/urandom >"$back/big.bin"
printf 'backing content\n' >"$back/small.txt"
printf 'lower content, longer than the backing\n' >"$lower/existing.txt"
printf 'plain\n' >"$lower/d/plain.txt"
printf 'shadowed in lower\n' >"$lower/d/shadow.txt"
printf 'tree a\n' >"$back/tree/a.txt"
printf 'tree shadow\n' >"$back/tree/shadow.txt"
printf 'tree sub b\n' >"$back/tree/sub/b.txt"
printf 'glob\n' >"$back/glob.txt"
printf "x\n" >"$lower/one.log"
# sparse, larger than 4 GiB, with data on both sides of 4 GiB
truncate -s 5G "$back/huge.bin"
head -c 70000 /dev/urandom | dd of="$back/huge.bin" bs=1 seek=$((4 * 1024 * 1024 * 1024 - 30000)) conv=notrunc status=none
head -c 5000 /dev/urandom | dd of="$back/huge.bin" bs=1 seek=$((5 * 1024 * 1024 * 1024 - 5000)) conv=notrunc status=none

args="rule=/virtual.bin=>$back/big.bin;rule=/huge.bin=>$back/huge.bin"
args+=";rule=/existing.txt=>$back/small.txt;rule=/d/=>$back/tree/"
args+=";rule=/vt/=>$back/tree/,errno=EROFS;rule=/*.log=>$back/glob.txt"
args+=";rule=/missing.bin=>$back/nope.bin;block=4096;$extra"
it_mount "$lower" "$mnt" --filter "redirect:$args"

# listings and sizes
ls "$mnt" | sort | tr '\n' ' ' | grep -qx "d existing.txt huge.bin one.log virtual.bin vt " ||
	it_fail "root listing: $(ls "$mnt" | tr '\n' ' ')"
[[ $(ls "$mnt/d" | sort | tr '\n' ' ') == "a.txt plain.txt shadow.txt sub " ]] ||
	it_fail "d listing: $(ls "$mnt/d" | tr '\n' ' ')"
[[ $(stat -c %s "$mnt/virtual.bin") == 3000000 ]] || it_fail "virtual size"
[[ $(stat -c %s "$mnt/existing.txt") == 16 ]] || it_fail "existing size"
[[ $(stat -c %s "$mnt/huge.bin") == $((5 << 30)) ]] || it_fail "huge size"
ls -l "$mnt" | grep -q ' 5 .* one.log$' || it_fail "glob size in ls -l"
[[ $(find "$mnt" -name virtual.bin -size 3000000c) ]] || it_fail "find -size"
[[ $(du -b "$mnt/virtual.bin" | cut -f1) == 3000000 ]] || it_fail "du -b"

# contents
[[ $(cat "$mnt/existing.txt") == "backing content" ]] || it_fail "existing content"
[[ $(cat "$mnt/d/shadow.txt") == "tree shadow" ]] || it_fail "prefix shadows lower"
[[ $(cat "$mnt/d/plain.txt") == "plain" ]] || it_fail "lower file under prefix"
[[ $(cat "$mnt/d/sub/b.txt") == "tree sub b" ]] || it_fail "virtual subdir"
[[ $(cat "$mnt/vt/a.txt") == "tree a" ]] || it_fail "virtual tree"
[[ $(cat "$mnt/one.log") == "glob" ]] || it_fail "glob content"
cmp "$mnt/virtual.bin" "$back/big.bin" || it_fail "cmp virtual"
cp "$mnt/virtual.bin" "$base/copy" && cmp "$base/copy" "$back/big.bin" || it_fail "cp"
[[ $(sha256sum <"$mnt/virtual.bin") == $(sha256sum <"$back/big.bin") ]] || it_fail sha256sum
tar -C "$mnt" -cf "$base/t.tar" virtual.bin d && mkdir "$base/untar" &&
	tar -C "$base/untar" -xf "$base/t.tar" && cmp "$base/untar/virtual.bin" "$back/big.bin" &&
	cmp "$base/untar/d/a.txt" "$back/tree/a.txt" || it_fail tar
"$REDIRTEST" compare "$mnt/virtual.bin" "$back/big.bin" "$mnt/d/cfr.out" 600 1 || it_fail "compare virtual"
"$REDIRTEST" compare "$mnt/existing.txt" "$back/small.txt" "$base/cfr" 200 2 || it_fail "compare existing"
"$REDIRTEST" compare "$mnt/huge.bin" "$back/huge.bin" "$base/cfr" 200 3 || it_fail "compare huge"
for off in $((4 * 1024 * 1024 * 1024 - 30001)) $((4 * 1024 * 1024 * 1024)) $((5 * 1024 * 1024 * 1024 - 4097)); do
	cmp <(dd if="$mnt/huge.bin" bs=1 skip="$off" count=9000 iflag=skip_bytes,count_bytes status=none) \
	    <(dd if="$back/huge.bin" bs=1 skip="$off" count=9000 iflag=skip_bytes,count_bytes status=none) ||
		it_fail "huge at $off"
done
"$REDIRTEST" threads "$mnt/virtual.bin" "$back/big.bin" 256 40 || it_fail "256 readers"

# write policy
for f in existing.txt virtual.bin d/a.txt one.log; do
	if echo x 2>"$base/err" >>"$mnt/$f"; then it_fail "append to $f succeeded"; fi
	grep -q 'Permission denied' "$base/err" || it_fail "append to $f: $(cat "$base/err")"
	truncate -s 0 "$mnt/$f" 2>/dev/null && it_fail "truncate $f succeeded"
	rm -f "$mnt/$f" 2>/dev/null && it_fail "unlink $f succeeded"
done
if echo x 2>"$base/err" >"$mnt/vt/a.txt"; then it_fail "write vt"; fi
grep -q 'Read-only file system' "$base/err" || it_fail "EROFS: $(cat "$base/err")"
mv "$mnt/existing.txt" "$mnt/moved" 2>/dev/null && it_fail "rename succeeded"
[[ $(cat "$lower/existing.txt") == "lower content, longer than the backing" ]] ||
	it_fail "the lower file changed"
echo new >"$mnt/d/new.txt" && [[ $(cat "$lower/d/new.txt") == new ]] ||
	it_fail "ordinary file under a prefix"

# a rule whose backing file is missing: the name does not appear (virtual)
[[ ! -e $mnt/missing.bin ]] || it_fail "missing backing appears"
# ... and an existing lower file whose backing goes away fails with EIO
mv "$back/small.txt" "$back/small.gone"
echo 3 >/proc/sys/vm/drop_caches
out=$(cat "$mnt/existing.txt" 2>&1) && it_fail "read with missing backing: $out"
grep -q 'Input/output error' <<<"$out" || it_fail "missing backing errno: $out"
mv "$back/small.gone" "$back/small.txt"

it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
grep -q 'rule /missing.bin: backing' "$IT_LOG" || it_fail "missing backing not reported"
# a bad rule refuses the mount
mkdir "$base/mnt2"
"$FSFILTER" mount "$lower" "$base/mnt2" -f --filter "redirect:rule=nope" 2>"$base/bad" &&
	it_fail "bad rule mounted"
grep -q 'expected PATH=>BACKING' "$base/bad" || it_fail "bad rule message: $(cat "$base/bad")"
it_log "ok ($extra)"
