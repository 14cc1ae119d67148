#!/usr/bin/env bash
# 8 processes race on one subtree of a volume for ~20 s; then what the volume
# showed (listing and sha256 of every file, taken through the volume before
# unmounting) must be byte for byte what the lower directory holds.
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${STRESS:-} ]] || it_fail "STRESS not set"
SECONDS_RUN=${STRESS_SECONDS:-20}

it_tmpdir base
mkdir "$base/lower" "$base/mnt"
it_mount "$base/lower" "$base/mnt"

"$STRESS" "$base/mnt" 8 "$SECONDS_RUN" || it_fail "stress reported errors on the volume"

snapshot() { # DIR -> listing with type, size, mode and content hash
	(cd "$1" && find . -mindepth 1 -printf '%p %y %s %m\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}
snapshot "$base/mnt" >"$base/volume.txt" || it_fail "listing the volume failed"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
snapshot "$base/lower" >"$base/lower.txt"

nfiles=$(grep -c ' f ' "$base/volume.txt")
((nfiles > 0)) || it_fail "no files left to compare (test bug)"
if ! diff -u "$base/lower.txt" "$base/volume.txt" >"$base/diff"; then
	head -n 60 "$base/diff" >&2
	it_fail "the volume showed something else than the lower directory holds"
fi
it_log "ok: $nfiles files identical through the volume and in the lower directory"
