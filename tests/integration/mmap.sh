#!/usr/bin/env bash
# Shared mappings: data written through mmap reaches the lower file and reads
# back with read(2) after a remount; reads through mmap return file content.
#   mmap.sh [MOUNT ARGS...]   (passed to `fsfilter mount`)
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${MMAPTEST:-} ]] || it_fail "MMAPTEST not set"

it_tmpdir base
mkdir "$base/lower" "$base/mnt" "$base/native"
# the same program on the native file system first: it must pass there
"$MMAPTEST" write "$base/native" && "$MMAPTEST" verify "$base/native" ||
	it_fail "mmaptest fails on the native file system (test bug)"

it_mount "$base/lower" "$base/mnt" "$@"
"$MMAPTEST" write "$base/mnt" || it_fail "mmap writes/reads on the volume"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"

"$MMAPTEST" verify "$base/lower" || it_fail "lower files after unmount"
it_mount "$base/lower" "$base/mnt" "$@"
"$MMAPTEST" verify "$base/mnt" || it_fail "read(2) after remount"
for f in mapped partial private big; do
	cmp "$base/native/$f" "$base/mnt/$f" || it_fail "$f differs from the native run"
done
# MAP_SHARED of an O_DIRECT open (a direct-I/O open: without
# FUSE_DIRECT_IO_ALLOW_MMAP, negotiated at INIT, the kernel says ENODEV)
python3 - "$base/mnt/mapped" "$base/native/mapped" <<'PY' || it_fail "MAP_SHARED of an O_DIRECT open"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
with open(sys.argv[2], "rb") as f:
    sys.exit(0 if m[:] == f.read() else 1)
PY
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
it_log "ok"
