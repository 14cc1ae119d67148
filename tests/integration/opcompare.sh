#!/usr/bin/env bash
# Differential test: the same script of operations on a native directory and
# on a volume with no filters; every step must give the same result.
#   opcompare.sh [--user]   (--user: run the script as uid 65534)
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${OPCOMPARE:-} ]] || it_fail "OPCOMPARE not set"
[[ ${1:-} == --user ]] && IT_NAME+="_user"

it_tmpdir base
mkdir "$base/native" "$base/lower" "$base/mnt"
chmod 755 "$base/native" "$base/lower" "$base/mnt"
it_mount "$base/lower" "$base/mnt"

"$OPCOMPARE" "$@" "$base/native" "$base/mnt" || it_fail "differences between native and volume (see above)"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with status $?"
