#!/usr/bin/env bash
# crypt's raw view (raw=LIST): listed processes see the stored ciphertext
# with stored sizes, read-only, while everyone else sees plaintext, on the
# same files at the same time (stat, read, mmap interleaved: the views
# never see each other's bytes or sizes). A raw backup (tar, cp -a) of a
# volume mounted over its own directory, restored into a fresh lower
# directory, mounts with the same key and decrypts to the same tree.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
vol=$base/vol lower=$base/lower mnt=$base/mnt
mkdir "$vol" "$base/r1" "$base/r2" "$base/m1" "$base/m2"
it_crypt_volume "$base"
# raw-view tools: comm is the executable's name
cp /usr/bin/tar "$base/rawtar"
cp /bin/cp "$base/rawcp"
cp /usr/bin/stat "$base/rawstat"
raw="raw=rawtar+comm:rawcp+rawstat+rawview"

# --- options
"$FSFILTER" mount "$lower" "$mnt" -f --filter "crypt:keyfile=$base/key,raw=pid:x" 2>>"$IT_LOG" &&
	it_fail "a bad raw= list must refuse to mount"

# --- both views interleaved on one file (stat, read, mmap), 2 seeds
it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key,$raw"
for seed in 1 2; do
	timeout 100 python3 "$(dirname "$0")/crypt_raw.py" "$mnt" "$lower" "f$seed" 150 "$seed" ||
		it_fail "raw/plain interleaving, seed $seed"
done
# the raw view sees the config file, read-only; others do not
"$base/rawstat" -c %s "$mnt/.fsfilter-crypt.conf" >/dev/null || it_fail "raw view cannot see the config"
stat "$mnt/.fsfilter-crypt.conf" 2>/dev/null && it_fail "config visible to plaintext"
"$base/rawcp" "$base/key" "$mnt/newfile" 2>/dev/null && it_fail "raw view created a file"
[[ -e $mnt/newfile ]] && it_fail "raw create left a file"
it_unmount "$mnt"

# --- a volume attached over its own directory, backed up raw
it_crypt_init "$vol" "$base/key"
it_mount "$vol" "$vol" --nonempty --filter "crypt:keyfile=$base/key,$raw"
mkdir -p "$vol/d1/d2" "$vol/empty"
printf 'hello' >"$vol/small"
: >"$vol/zero"
head -c 1000000 /dev/urandom >"$vol/d1/big"
head -c 4096 /dev/urandom >"$vol/d1/d2/block"
truncate -s 300000 "$vol/d1/sparse"
printf 'tail' >>"$vol/d1/sparse"
ln -s ../small "$vol/d1/link"
chmod 600 "$vol/d1/big"
(cd "$vol" && find . -path ./.fsfilter-crypt.conf -prune -o -type f -print0 | sort -z |
	xargs -0 sha256sum) >"$base/plain.sum" || it_fail "plaintext checksums"
grep -q FSFCRYPT "$vol/small" && it_fail "plaintext process sees ciphertext"
[[ $("$base/rawstat" -c %s "$vol/small") == $((96 + 5 + 28)) ]] || it_fail "raw size of small"
[[ $(stat -c %s "$vol/small") == 5 ]] || it_fail "plain size of small after a raw stat"
"$base/rawtar" -C "$vol" -cpf "$base/backup.tar" . || it_fail "raw tar"
"$base/rawcp" -a "$vol/." "$base/rawcopy" || it_fail "raw cp -a"
[[ $(stat -c %s "$vol/d1/big") == 1000000 ]] || it_fail "plain size after the backup"
tar -tf "$base/backup.tar" >"$base/backup.list" || it_fail "tar -t"
grep -q fsfilter-crypt.conf "$base/backup.list" || it_fail "config not in the raw backup"
grep -q FSFCRYPT "$base/rawcopy/small" || it_fail "raw copy is not ciphertext"
it_unmount "$vol"

# --- restored into fresh lower directories: same key, same plaintext
tar -C "$base/r1" -xpf "$base/backup.tar" || it_fail "restore tar"
cp -a "$base/rawcopy/." "$base/r2" || it_fail "restore cp"
for r in 1 2; do
	it_mount "$base/r$r" "$base/m$r" --filter "crypt:keyfile=$base/key"
	(cd "$base/m$r" && sha256sum -c --quiet "$base/plain.sum") || it_fail "restore $r decrypts differently"
	[[ $(readlink "$base/m$r/d1/link") == ../small ]] || it_fail "restore $r symlink"
	[[ -d $base/m$r/empty ]] || it_fail "restore $r empty dir"
	[[ $(stat -c %a "$base/m$r/d1/big") == 600 ]] || it_fail "restore $r mode"
	it_unmount "$base/m$r"
done
"$FSFILTER" crypt verify "$base/r1" --keyfile "$base/key" >/dev/null 2>&1 || it_fail "verify of the restore"
it_log "ok"
