#!/usr/bin/env bash
# Differential test: the same script of operations on a native directory and
# on a volume with no filters; every step must give the same result.
#   opcompare.sh [--user] [-- MOUNT ARGS...]
#   --user: run the script as uid 65534; MOUNT ARGS go to `fsfilter mount`
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${OPCOMPARE:-} ]] || it_fail "OPCOMPARE not set"
opc_args=()
if [[ ${1:-} == --user ]]; then
	IT_NAME+="_user"
	opc_args+=(--user)
	shift
fi
[[ ${1:-} == -- ]] && shift

it_tmpdir base
mkdir "$base/native" "$base/lower" "$base/mnt"
chmod 755 "$base/native" "$base/lower" "$base/mnt"
it_mount "$base/lower" "$base/mnt" "$@"
# the writeback cache's known differences (see opcompare.c)
[[ " $* " == *" --writeback "* ]] && export OPCOMPARE_WRITEBACK=1

"$OPCOMPARE" "${opc_args[@]}" "$base/native" "$base/mnt" || it_fail "differences between native and volume (see above)"
it_unmount "$base/mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with status $?"
