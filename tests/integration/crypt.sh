#!/usr/bin/env bash
# The crypt filter, mounted: keys (key file, passphrase, wrong key refused
# before mounting), data integrity against an in-memory model (plain, mmap,
# two concurrent writers, O_APPEND), sizes (stat, SEEK_END, > 4 GiB),
# fallocate, copy_file_range, the hidden config file, ciphertext at rest,
# tamper detection (EIO for that block only, logged), verify and migrate.
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${CRYPTMODEL:-} ]] || it_fail "CRYPTMODEL not set"

it_tmpdir base
it_crypt_volume "$base"
lower=$base/lower mnt=$base/mnt
"$FSFILTER" crypt init "$lower" --keyfile "$base/key" -q 2>/dev/null &&
	it_fail "a second init must refuse"
it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"

# --- crypt's READ size (flt_registration.max_read) reached the mount
opts=$(awk -v m="$mnt" '$5 == m { print $NF }' /proc/self/mountinfo)
[[ ,$opts, == *,max_read=131072,* ]] ||
	it_fail "crypt volume mounted without max_read=131072: $opts"
# and room for its readahead windows of small READs (below 48 queued
# background requests the kernel stops sending readahead: fe_init)
conn=/sys/fs/fuse/connections/$(stat -c %d "$mnt")
if [[ -d $conn ]]; then
	[[ $(<"$conn/max_background") == 64 && $(<"$conn/congestion_threshold") == 48 ]] ||
		it_fail "crypt volume's max_background/congestion_threshold: $(<"$conn/max_background")/$(<"$conn/congestion_threshold"), expected 64/48"
else
	it_log "no $conn (fusectl not mounted): background limits not checked"
fi

# --- the config file is invisible and protected
ls -a "$mnt" | grep -q fsfilter-crypt && it_fail "config visible in listing"
stat "$mnt/.fsfilter-crypt.conf" 2>/dev/null && it_fail "config visible to stat"
touch "$mnt/.fsfilter-crypt.conf" 2>/dev/null && it_fail "config can be created"
[[ -s $lower/.fsfilter-crypt.conf ]] || it_fail "config damaged"

# --- randomized integrity against a model
for seed in 1 2; do
	timeout 200 "$CRYPTMODEL" model "$mnt/model$seed" "$seed" 4000 ||
		it_fail "model run seed $seed"
done
timeout 200 "$CRYPTMODEL" model "$mnt/mmap" 3 3000 mmap || it_fail "mmap model run"
"$CRYPTMODEL" slots "$mnt/slots" 0 800 & p0=$!
"$CRYPTMODEL" slots "$mnt/slots" 1 800 || it_fail "writer 1"
wait $p0 || it_fail "writer 0"
"$CRYPTMODEL" checkslots "$mnt/slots" 800 || it_fail "concurrent writers lost data"

# --- O_APPEND from two processes: every line whole, none lost
apids=()
for w in a b; do
	( for i in $(seq 1 300); do printf '%s-%04d-%0100d\n' $w $i 0 >>"$mnt/log"; done ) &
	apids+=($!)
done
wait "${apids[@]}"	# not a bare wait: the daemon is our child too
[[ $(wc -l <"$mnt/log") == 600 ]] || it_fail "appends lost: $(wc -l <"$mnt/log")"
[[ $(grep -c -E '^[ab]-[0-9]{4}-0{100}$' "$mnt/log") == 600 ]] || it_fail "torn appends"

# --- sizes, > 4 GiB, fallocate, lseek, copy_file_range
truncate -s 5G "$mnt/big" || it_fail "truncate up to 5 GiB"
printf 'tail-of-big' | dd of="$mnt/big" bs=1 seek=$((5 * 1024 * 1024 * 1024 - 5)) conv=notrunc status=none ||
	it_fail "write near 5 GiB"
[[ $(stat -c %s "$mnt/big") == $((5 * 1024 * 1024 * 1024 + 6)) ]] || it_fail "big size $(stat -c %s "$mnt/big")"
[[ $(tail -c 11 "$mnt/big") == tail-of-big ]] || it_fail "big tail"
[[ $(dd if="$mnt/big" bs=4096 skip=1000 count=1 status=none | tr -d '\0' | wc -c) == 0 ]] ||
	it_fail "hole does not read as zeros"
fallocate -l 10000 "$mnt/falloc" || it_fail "fallocate"
[[ $(stat -c %s "$mnt/falloc") == 10000 ]] || it_fail "fallocate size"
python3 - "$mnt" <<'PY' || it_fail "lseek / copy_file_range"
import os, sys
m = sys.argv[1]
fd = os.open(m + "/falloc", os.O_RDONLY)
assert os.lseek(fd, 0, os.SEEK_END) == 10000
# fallocate reserves nothing: all of it is a hole
assert os.lseek(fd, 10, os.SEEK_HOLE) == 10
try:
    os.lseek(fd, 10, os.SEEK_DATA)
    assert False, "SEEK_DATA in a file that is all hole"
except OSError as e:
    assert e.errno == 6, e  # ENXIO
os.close(fd)
data = os.urandom(300000)
with open(m + "/cfr_src", "wb") as f: f.write(data)
i = os.open(m + "/cfr_src", os.O_RDONLY)
o = os.open(m + "/cfr_dst", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
done = 0
while done < len(data):
    n = os.copy_file_range(i, o, len(data) - done)
    assert n > 0
    done += n
os.close(i); os.close(o)
assert open(m + "/cfr_dst", "rb").read() == data
PY

# --- at rest: no plaintext in the lower files, exact ciphertext sizes
printf 'secret-marker-%.0s' {1..100} >"$mnt/plain"
grep -rq secret-marker "$lower" && it_fail "plaintext in the lower directory"
[[ $(stat -c %s "$lower/plain") == $((96 + 1400 + 28)) ]] || it_fail "lower size of plain"
sha_before=$(cat "$mnt/model1" "$mnt/mmap" "$mnt/slots" "$mnt/log" | sha256sum)
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"

# --- wrong key, wrong kind of secret: refused before mounting
head -c 32 /dev/urandom >"$base/otherkey"
"$FSFILTER" mount "$lower" "$mnt" -f --filter "crypt:keyfile=$base/otherkey" 2>"$base/wrong.log" &&
	it_fail "mounted with a wrong key"
it_is_mounted "$mnt" && it_fail "mounted with a wrong key"
grep -q "wrong key file" "$base/wrong.log" || it_fail "no clear wrong-key message: $(cat "$base/wrong.log")"
"$FSFILTER" crypt verify "$lower" --keyfile "$base/otherkey" -q 2>/dev/null && it_fail "verify with a wrong key"

# --- remount: same plaintext
it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"
[[ $(cat "$mnt/model1" "$mnt/mmap" "$mnt/slots" "$mnt/log" | sha256sum) == "$sha_before" ]] ||
	it_fail "content changed across remount"
head -c 20480 /dev/urandom >"$base/five"
cp "$base/five" "$mnt/five"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10
"$FSFILTER" crypt verify "$lower" --keyfile "$base/key" -q || it_fail "verify of a clean volume"

# --- tamper: flip one bit of block 2 of "five"
off=$((96 + 2 * 4124 + 100))
python3 -c "
import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^4]))" \
	"$lower/five" "$off"
"$FSFILTER" crypt verify "$lower" --keyfile "$base/key" >"$base/verify.out" 2>&1 &&
	it_fail "verify missed the flipped bit"
grep -q "five: 1 corrupt block: 2" "$base/verify.out" || it_fail "verify report: $(cat "$base/verify.out")"
it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"
for b in 0 1 3 4; do
	dd if="$mnt/five" bs=4096 skip=$b count=1 status=none | cmp -s - <(dd if="$base/five" bs=4096 skip=$b count=1 status=none) ||
		it_fail "good block $b of a tampered file does not read"
done
dd if="$mnt/five" of=/dev/null bs=4096 skip=2 count=1 status=none 2>"$base/dd.err" &&
	it_fail "tampered block 2 read without error"
grep -q "Input/output error" "$base/dd.err" || it_fail "tampered block: $(cat "$base/dd.err")"
grep -q "file 'five'.*block 2 " "$IT_LOG" || it_fail "tamper not logged with file and block"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10

# --- passphrase volume (scrypt) + migrate of existing plaintext files
plower=$base/plower
mkdir -p "$plower/sub"
printf 'correct horse battery staple\n' >"$base/pass"
printf 'wrong\n' >"$base/badpass"
head -c 100000 /dev/urandom >"$plower/sub/rand"
echo "small" >"$plower/small"
: >"$plower/empty"
cp -a "$plower" "$base/orig"
"$FSFILTER" crypt init "$plower" --passfile "$base/pass" --scrypt-log2n 12 -q || it_fail "init passphrase"
"$FSFILTER" crypt migrate "$plower" --passfile "$base/badpass" -q 2>/dev/null && it_fail "migrate with a wrong passphrase"
"$FSFILTER" crypt migrate "$plower" --passfile "$base/pass" -q || it_fail "migrate"
cmp -s "$plower/sub/rand" "$base/orig/sub/rand" && it_fail "migrate left plaintext"
ls -a "$plower/sub" | grep -q fsfilter-crypt-tmp && it_fail "migrate left temp files"
"$FSFILTER" crypt verify "$plower" --passfile "$base/pass" -q || it_fail "verify after migrate"
"$FSFILTER" crypt migrate "$plower" --passfile "$base/pass" -q || it_fail "second migrate (no-op)"
it_mount "$plower" "$mnt" --filter "crypt:passfile=$base/pass"
diff -r "$base/orig" "$mnt" || it_fail "migrated files differ"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10
"$FSFILTER" mount "$plower" "$mnt" -f --filter "crypt:passfile=$base/badpass" 2>"$base/wrong2.log" &&
	it_fail "mounted with a wrong passphrase"
grep -q "wrong passphrase" "$base/wrong2.log" || it_fail "no clear wrong-passphrase message"

# --- the same model with the kernel's writeback cache (the kernel owns size
# and append offsets, writes back pages from any writable handle)
wlower=$base/wlower
mkdir "$wlower"
it_crypt_init "$wlower" "$base/key"
it_mount "$wlower" "$mnt" --writeback --filter "crypt:keyfile=$base/key"
timeout 200 "$CRYPTMODEL" model "$mnt/wb" 7 3000 || it_fail "writeback model run"
timeout 200 "$CRYPTMODEL" model "$mnt/wbmmap" 8 2000 mmap || it_fail "writeback mmap model run"
"$CRYPTMODEL" slots "$mnt/wslots" 0 600 & p0=$!
"$CRYPTMODEL" slots "$mnt/wslots" 1 600 || it_fail "writeback writer 1"
wait $p0 || it_fail "writeback writer 0"
"$CRYPTMODEL" checkslots "$mnt/wslots" 600 || it_fail "writeback: concurrent writers lost data"
sha_wb=$(cat "$mnt/wb" "$mnt/wbmmap" | sha256sum)
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"
it_mount "$wlower" "$mnt" --filter "crypt:keyfile=$base/key"
[[ $(cat "$mnt/wb" "$mnt/wbmmap" | sha256sum) == "$sha_wb" ]] || it_fail "writeback content after remount"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10
it_log "ok"
