#!/usr/bin/env bash
# Lower-layer fault injection, mounted (docs/reliability.md). A daemon
# started with --enable-fault-injection is armed through `fsfilter fault`
# (src/lower/fault.c has the spec). Under each injected fault the caller
# gets the lower errno, the next operations work, and afterwards the
# daemon's lower handles, live callback data and (after the kernel forgot
# its inodes) lower inodes are back to their baseline. With crypt and with
# redirect's copy-on-write, a failed write never leaves a half-written
# file visible: crypt files still authenticate, a failed copy-up leaves
# the backing content in view and no partial lower file.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir -p "$lower" "$mnt"
printf 'old content\n' >"$lower/keep.txt"

# st KEY: one number from this volume's status
st() {
	"$FSFILTER" status "$mnt" --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['volume']['$1'])"
}
fault() { "$FSFILTER" fault "$mnt" "$1" >/dev/null || it_fail "fault $1 refused"; }
# expect_err CMD...: CMD fails, and its message names the injected errno
expect_err() {
	local want=$1 out
	shift
	out=$("$@" 2>&1) && it_fail "succeeded under a fault: $*"
	grep -q "$want" <<<"$out" || it_fail "$*: wanted '$want', got: $out"
}
# back to baseline: no handle, no live callback data, and once the
# kernel forgot what it looked up (drop_caches 2 = dentries and inodes;
# global, but harmless to tests running beside us), only the root node
check_baseline() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ $(st lower_handles) == 0 && $(st live_callback_data) == 0 ]] && break
		sleep 0.1
	done
	[[ $(st lower_handles) == 0 ]] || it_fail "$1: lower handles left: $(st lower_handles)"
	[[ $(st live_callback_data) == 0 ]] || it_fail "$1: live callback data: $(st live_callback_data)"
	for ((i = 0; i < 50; i++)); do
		sync
		echo 2 >/proc/sys/vm/drop_caches
		[[ $(st lower_inodes) == 1 ]] && return 0
		sleep 0.1
	done
	it_fail "$1: lower inodes not back to 1: $(st lower_inodes)"
}

# --- plain volume (daemon path: passthrough I/O would bypass the daemon)
it_mount "$lower" "$mnt" --no-passthrough --enable-fault-injection
"$FSFILTER" status "$mnt" >/dev/null || it_fail "status"

# a daemon without the flag refuses
it_tmpdir base2
mkdir -p "$base2/l" "$base2/m"
it_mount "$base2/l" "$base2/m"
"$FSFILTER" fault "$base2/m" "pwrite:1:EIO" 2>/dev/null && it_fail "fault accepted without --enable-fault-injection"
it_unmount "$base2/m"

"$FSFILTER" fault "$mnt" "bogus:1:EIO" 2>/dev/null && it_fail "a bad spec was accepted"

# write: EIO, then the next write works
fault pwrite:1:EIO
expect_err "Input/output error" dd if=/dev/zero of="$mnt/w.bin" bs=64k count=1 status=none
dd if=/dev/urandom of="$base/w.ref" bs=64k count=16 status=none
cp "$base/w.ref" "$mnt/w.bin" || it_fail "write after the fault"
cmp "$base/w.ref" "$lower/w.bin" || it_fail "content after the fault"
[[ $("$FSFILTER" fault "$mnt" "") == 1 ]] || it_fail "fired count"

# ENOSPC on every write from the 3rd on, then disarmed
fault pwrite:3:ENOSPC:0
expect_err "No space left" dd if="$base/w.ref" of="$mnt/n.bin" bs=64k oflag=direct status=none
fault ""
dd if="$base/w.ref" of="$mnt/n.bin" bs=64k oflag=direct status=none || it_fail "write after ENOSPC"
cmp "$base/w.ref" "$mnt/n.bin" || it_fail "content after ENOSPC"

# short reads and writes are completed by the lower layer
fault pread:1:short,pwrite:1:short
cp "$base/w.ref" "$mnt/s.bin" || it_fail "short write"
echo 3 >/proc/sys/vm/drop_caches
cmp "$base/w.ref" "$mnt/s.bin" || it_fail "short read/write content"
[[ $("$FSFILTER" fault "$mnt" "") == 2 ]] || it_fail "short faults did not fire"

# open: EMFILE (the first openat: a lookup or the open itself)
echo 2 >/proc/sys/vm/drop_caches
fault openat:1:EMFILE
expect_err "Too many open files" cat "$mnt/keep.txt"
[[ $(cat "$mnt/keep.txt") == "old content" ]] || it_fail "open after EMFILE"

# metadata: mkdir, rename, unlink, setxattr, fsync fail once each
fault mkdirat:1:EIO
expect_err "Input/output error" mkdir "$mnt/d"
mkdir "$mnt/d" || it_fail "mkdir after the fault"
fault renameat2:1:EACCES
expect_err "Permission denied" mv "$mnt/w.bin" "$mnt/d/w.bin"
mv "$mnt/w.bin" "$mnt/d/w.bin" || it_fail "rename after the fault"
fault unlinkat:1:EROFS
expect_err "Read-only file system" rm "$mnt/d/w.bin"
rm "$mnt/d/w.bin" || it_fail "unlink after the fault"
fault setxattr:1:EDQUOT
expect_err "quota" setfattr -n user.x -v 1 "$mnt/keep.txt"
setfattr -n user.x -v 1 "$mnt/keep.txt" || it_fail "setxattr after the fault"
fault fsync:1:EIO
expect_err "Input/output error" dd if=/dev/zero of="$mnt/keep2.txt" bs=1k count=1 conv=fsync status=none
fault ""
# a storm: every 7th pwrite and every 5th pread fails while 8 writers and
# readers run; then everything is clean
fault pwrite:7:EIO:0,pread:5:EIO:0
storm=()
for i in 1 2 3 4 5 6 7 8; do
	(for j in 1 2 3 4 5 6 7 8 9 10; do
		dd if="$base/w.ref" of="$mnt/storm$i" bs=64k status=none 2>/dev/null
		cat "$mnt/storm$i" >/dev/null 2>&1
	done) &
	storm+=($!)
done
wait "${storm[@]}"	# not a bare wait: the daemons are our children too
fault ""
for i in 1 2 3 4 5 6 7 8; do
	cp "$base/w.ref" "$mnt/storm$i" && cmp "$base/w.ref" "$mnt/storm$i" || it_fail "storm file $i after"
done
check_baseline plain
it_unmount "$mnt"

# --- crypt: a failing write never leaves a file that does not authenticate
clower=$base/clower cmnt=$base/cmnt
mkdir -p "$clower" "$cmnt"
it_crypt_init "$clower" "$base/key"
mnt=$cmnt
it_mount "$clower" "$cmnt" --no-passthrough --enable-fault-injection --filter "crypt:keyfile=$base/key"
printf 'sealed\n' >"$cmnt/a.txt" || it_fail "crypt write"
for spec in pwrite:1:EIO pwrite:2:ENOSPC pwrite:1:short,pwrite:2:EIO fsync:1:EIO pread:1:EIO; do
	fault "$spec"
	# a new file and an overwrite of an existing one, each may fail
	cp "$base/w.ref" "$cmnt/new.bin" 2>/dev/null
	dd if="$base/w.ref" of="$cmnt/a.txt" bs=4k count=3 conv=fsync status=none 2>/dev/null
	fault ""
	# what is visible reads back whole (authenticates) ...
	cat "$cmnt/a.txt" "$cmnt/new.bin" >/dev/null || it_fail "crypt file unreadable after $spec"
	# ... and a clean rewrite works
	cp "$base/w.ref" "$cmnt/new.bin" && cmp "$base/w.ref" "$cmnt/new.bin" || it_fail "crypt rewrite after $spec"
	rm -f "$cmnt/new.bin"
done
check_baseline crypt
it_unmount "$cmnt"
"$FSFILTER" crypt verify "$clower" --keyfile "$base/key" -q || it_fail "crypt verify after faults"

# --- redirect copy-on-write: a copy-up that fails leaves no partial file
rlower=$base/rlower rmnt=$base/rmnt back=$base/back
mkdir -p "$rlower" "$rmnt" "$back"
head -c 3000000 /dev/urandom >"$back/big.bin"
mnt=$rmnt
it_mount "$rlower" "$rmnt" --no-passthrough --enable-fault-injection \
	--filter "redirect:rule=/v.bin=>$back/big.bin,policy=copy-on-write"
cmp "$rmnt/v.bin" "$back/big.bin" || it_fail "virtual file before"
for spec in pwrite:3:EIO:0 pwrite:1:ENOSPC:0 fsync:1:EIO:0 renameat2:1:EIO:0; do
	fault "$spec"
	printf 'XYZ' | dd of="$rmnt/v.bin" bs=1 seek=1000 conv=notrunc status=none 2>/dev/null &&
		it_fail "copy-up succeeded under $spec"
	fault ""
	# still the backing content, and no partial lower file in view
	cmp "$rmnt/v.bin" "$back/big.bin" || it_fail "partial copy-up visible after $spec"
	[[ -e $rlower/v.bin ]] && it_fail "partial lower file after $spec"
	ls -a "$rmnt" | grep -v -x -e . -e .. -e v.bin && it_fail "temp file visible after $spec"
done
printf 'XYZ' | dd of="$rmnt/v.bin" bs=1 seek=1000 conv=notrunc status=none || it_fail "copy-up after the faults"
cp "$back/big.bin" "$base/expect" && printf 'XYZ' | dd of="$base/expect" bs=1 seek=1000 conv=notrunc status=none
cmp "$rmnt/v.bin" "$base/expect" && cmp "$rlower/v.bin" "$base/expect" || it_fail "copy-up content"
check_baseline redirect
it_unmount "$rmnt"
it_log "ok"
