#!/usr/bin/env bash
# crypt: sparse files. Blocks never written are holes in the lower file
# and SEEK_DATA / SEEK_HOLE report them in plaintext offsets (checked
# against a model of never-written blocks, cryptmodel holes); holes read
# as zeros; cp --sparse and du see them. Also O_DIRECT reads and writes.
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${CRYPTMODEL:-} ]] || it_fail "CRYPTMODEL not set"

it_tmpdir base
it_crypt_volume "$base"
lower=$base/lower mnt=$base/mnt
it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"

for seed in 1 2 3 4; do
	timeout 100 "$CRYPTMODEL" holes "$mnt/h$seed" "$seed" 1500 || it_fail "holes model, seed $seed"
done

# 100 MiB, data only at 10 MiB and in the last 5 bytes
truncate -s 100M "$mnt/sparse" || it_fail "truncate"
printf 'middle' | dd of="$mnt/sparse" bs=1 seek=$((10 << 20)) conv=notrunc status=none
printf 'tail!' | dd of="$mnt/sparse" bs=1 seek=$(((100 << 20) - 5)) conv=notrunc status=none
python3 - "$mnt/sparse" <<'PY' || it_fail "lseek on a sparse file"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
M = 1 << 20
assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
assert os.lseek(fd, 0, os.SEEK_DATA) == 10 * M
assert os.lseek(fd, 10 * M, os.SEEK_HOLE) == 10 * M + 4096
assert os.lseek(fd, 10 * M + 4096, os.SEEK_DATA) == 100 * M - 4096
assert os.lseek(fd, 100 * M - 4096, os.SEEK_HOLE) == 100 * M
assert os.pread(fd, 4096, 5 * M) == bytes(4096)
assert os.pread(fd, 6, 10 * M) == b"middle"
PY
[[ $(stat -c %s "$lower/sparse") -gt $((100 << 20)) ]] || it_fail "stored size"
# the lower file is sparse too, so is the volume's st_blocks
((($(stat -c %b "$lower/sparse") * 512) < (1 << 20))) || it_fail "lower file not sparse"
(($(du -k "$mnt/sparse" | cut -f1) < 1024)) || it_fail "du sees no holes: $(du -k "$mnt/sparse")"
for how in always auto; do
	cp --sparse=$how "$mnt/sparse" "$base/copy-$how" || it_fail "cp --sparse=$how"
	cmp "$mnt/sparse" "$base/copy-$how" || it_fail "cp --sparse=$how differs"
	((($(stat -c %b "$base/copy-$how") * 512) < (1 << 20))) || it_fail "cp --sparse=$how copy not sparse"
done
# a sparse copy back into the volume stays sparse below
cp --sparse=always "$base/copy-always" "$mnt/copy" || it_fail "cp into the volume"
cmp "$mnt/sparse" "$mnt/copy" || it_fail "copy into the volume differs"
((($(stat -c %b "$lower/copy") * 512) < (1 << 20))) || it_fail "copy into the volume not sparse below"
# O_DIRECT through the volume (the stored blocks are never aligned below)
head -c 1048576 /dev/urandom >"$base/direct.src"
dd if="$base/direct.src" of="$mnt/direct" bs=64k oflag=direct status=none || it_fail "O_DIRECT write"
dd if="$mnt/direct" of="$base/direct.back" bs=64k iflag=direct status=none || it_fail "O_DIRECT read"
cmp "$base/direct.src" "$base/direct.back" || it_fail "O_DIRECT round trip differs"
it_log "ok"
