#!/usr/bin/env bash
# redirect filter, copy-on-write under a bind mount inside the lower
# directory: the bind of a directory of the same file system has the
# spool's st_dev, but a rename from the spool (on the lower root's mount)
# into it crosses mounts (EXDEV). The copy then takes the temp file next
# to the file, as for a directory on another file system: the write
# succeeds, the lower file is the copy, and no temp file is left in the
# spool or next to the file.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back other=$base/other
mkdir -p "$lower/b" "$mnt" "$back" "$other"
printf 'backing content\n' >"$back/small.txt"
mount --bind "$other" "$lower/b" || it_skip "cannot bind-mount"
IT_MOUNTS+=("$lower/b")	# it_cleanup: umount -l (not an fsfilter volume)
[[ $(stat -c %d "$other") == $(stat -c %d "$lower") ]] || it_skip "not one file system"
it_mount "$lower" "$mnt" --filter "redirect:rule=/b/f.txt=>$back/small.txt,policy=copy-on-write"

[[ $(cat "$mnt/b/f.txt") == "backing content" ]] || it_fail "cow before write"
echo appended >>"$mnt/b/f.txt" || it_fail "append to a cow file in a bind mount"
[[ $(cat "$other/f.txt") == $'backing content\nappended' ]] ||
	it_fail "lower content: $(cat "$other/f.txt" 2>&1)"
[[ $(cat "$mnt/b/f.txt") == $'backing content\nappended' ]] || it_fail "volume content"
left=$(ls -A "$other")
[[ $left == f.txt ]] || it_fail "temp files next to the file: $left"
it_unmount "$mnt"
[[ ! -e $lower/.fsfilter-redirect-spool ]] || it_fail "spool left: $(ls -A "$lower/.fsfilter-redirect-spool")"
umount "$lower/b" || it_fail "umount of the bind mount"
exit 0
