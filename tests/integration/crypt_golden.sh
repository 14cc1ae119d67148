#!/usr/bin/env bash
# Format stability: the crypt-v1 golden tree (tests/golden/crypt-v1, made
# once with a fixed public test key, never regenerated) mounts and reads
# back byte for byte; verify accepts it.
. "$(dirname "$0")/lib.sh"
it_init
gold=$(cd "$(dirname "$0")/../golden/crypt-v1" && pwd)
[[ -f $gold/lower/.fsfilter-crypt.conf ]] || it_fail "golden tree missing"

it_tmpdir base
cp -a "$gold/lower" "$base/lower"	# mounting must not touch the original
mkdir "$base/mnt"
IT_LOG=$base/daemon.log
"$FSFILTER" crypt verify "$base/lower" --keyfile "$gold/keyfile" -q || it_fail "verify golden"
it_mount "$base/lower" "$base/mnt" --filter "crypt:keyfile=$gold/keyfile"
(cd "$base/mnt" && sha256sum --quiet -c "$gold/expected.sha256") || it_fail "golden content"
(cd "$base/mnt" && stat -c '%s %n' empty hello.txt block.bin multi.bin sparse.bin dir/nested.txt) |
	diff - "$gold/expected.sizes" || it_fail "golden sizes"
[[ $(readlink "$base/mnt/link") == hello.txt ]] || it_fail "golden symlink"
[[ $(ls -A "$base/mnt" | sort | tr '\n' ' ') == "block.bin dir empty hello.txt link multi.bin sparse.bin " ]] ||
	it_fail "golden listing: $(ls -A "$base/mnt")"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"
it_log "ok"
