#!/usr/bin/env bash
# --no-xattr (opt-in): the kernel is told ENOSYS once and then fails every
# xattr call on the volume with EOPNOTSUPP without asking the daemon, so
# `ls -l` (2 GETXATTRs per entry by default) sends at most one; the lower
# attributes stay untouched. Without the option the volume is transparent
# (the same attribute reads back). Also the config key (xattr = BOOL), and
# mount(8)'s -o xattr=off given to fsfilter mount; -o max_read is refused.
. "$(dirname "$0")/lib.sh"
it_init
command -v getfattr >/dev/null && command -v setfattr >/dev/null ||
	it_skip "getfattr/setfattr missing (package attr)"

n=300
it_tmpdir base
lower=$base/lower
mkdir "$lower" "$lower/ls" "$base/mnt" "$base/mnt2"
printf 'x\n' >"$lower/f"
setfattr -n user.keep -v kept "$lower/f" 2>/dev/null ||
	it_skip "the lower file system of ${TMPDIR:-/tmp} has no user xattrs"
for ((i = 0; i < n; i++)); do : >"$lower/ls/e$i"; done

# count OPCODE FROM: requests of OPCODE in the trace after line FROM
count() {
	tail -n +"$(($2 + 1))" "$IT_LOG" | grep -c "^unique: [0-9]*, opcode: $1 " || true
}

# the default: transparent, and ls -l asks per entry
IT_LOG=$base/default.log
it_mount "$lower" "$base/mnt" -d
[[ $(getfattr --only-values -n user.keep "$base/mnt/f" 2>/dev/null) == kept ]] ||
	it_fail "default volume: user.keep does not read back"
m=$(wc -l <"$IT_LOG")
[[ $(ls -l "$base/mnt/ls" | grep -c ' e[0-9]*$') == "$n" ]] ||
	it_fail "default volume: ls -l does not list $n entries"
sleep 0.3
g=$(count GETXATTR "$m")
it_log "default: ls -l of $n entries sent $g GETXATTR"
((g >= n)) || it_fail "default volume: only $g GETXATTR for $n entries (expected >= $n)"
it_unmount "$base/mnt"

# --no-xattr
IT_LOG=$base/noxattr.log
it_mount "$lower" "$base/mnt2" -d --no-xattr
m=$(wc -l <"$IT_LOG")
[[ $(ls -l "$base/mnt2/ls" | grep -c '^-rw-r--r-- 1 ') == "$n" ]] ||
	it_fail "--no-xattr: ls -l does not list $n plain entries"
out=$(getfattr -n user.keep "$base/mnt2/f" 2>&1) &&
	it_fail "--no-xattr: getxattr succeeded: $out"
grep -q "Operation not supported" <<<"$out" ||
	it_fail "--no-xattr: getxattr: wanted EOPNOTSUPP, got: $out"
out=$(setfattr -n user.new -v 1 "$base/mnt2/f" 2>&1) &&
	it_fail "--no-xattr: setxattr succeeded"
grep -q "Operation not supported" <<<"$out" ||
	it_fail "--no-xattr: setxattr: wanted EOPNOTSUPP, got: $out"
out=$(getfattr -d "$base/mnt2/f" 2>&1) && [[ -n $out ]] &&
	it_fail "--no-xattr: listxattr listed: $out"
ls -l "$base/mnt2/ls" >/dev/null
sleep 0.3
g=$(count GETXATTR "$m") s=$(count SETXATTR "$m") l=$(count LISTXATTR "$m")
it_log "--no-xattr: two ls -l of $n entries, getfattr, setfattr: $g GETXATTR, $s SETXATTR, $l LISTXATTR"
((g <= 1 && s <= 1 && l <= 1)) ||
	it_fail "--no-xattr: the kernel kept asking ($g GETXATTR, $s SETXATTR, $l LISTXATTR)"
# the lower attributes are untouched
[[ $(getfattr --only-values -n user.keep "$lower/f") == kept ]] ||
	it_fail "--no-xattr: the lower user.keep changed"
getfattr -n user.new "$lower/f" >/dev/null 2>&1 &&
	it_fail "--no-xattr: user.new reached the lower file"
it_unmount "$base/mnt2"

# mount(8)'s form, given to fsfilter mount itself: xattr=off is taken out
# of -o (libfuse would refuse it), the rest still reaches the kernel
IT_LOG=$base/o.log
it_mount "$lower" "$base/mnt2" -o noatime,xattr=off
out=$(getfattr -n user.keep "$base/mnt2/f" 2>&1) &&
	it_fail "-o xattr=off: getxattr succeeded: $out"
grep -q "Operation not supported" <<<"$out" ||
	it_fail "-o xattr=off: wanted EOPNOTSUPP, got: $out"
M=$(it_mountinfo_path "$base/mnt2") awk '$5 == ENVIRON["M"] { print $6 }' /proc/self/mountinfo |
	grep -qw noatime || it_fail "-o noatime,xattr=off: noatime did not reach the kernel"
it_unmount "$base/mnt2"

# max_read by hand is refused before mounting: the front end sets it (and
# INIT's max_read, which libfuse wants equal) from the filters
rc=0
out=$(timeout 20 "$FSFILTER" mount -f -o ro,max_read=65536 "$lower" "$base/mnt2" 2>&1) || rc=$?
((rc == 2)) || it_fail "-o max_read=65536: exit $rc, wanted 2 (usage): $out"
grep -q "max_read=65536.*not accepted" <<<"$out" || it_fail "-o max_read: unclear error: $out"
it_is_mounted "$base/mnt2" && it_fail "-o max_read=65536 mounted"
printf '[volume]\nlower = %s\nmountpoint = %s\noptions = max_read=4096\n' "$lower" "$base/mnt" >"$base/mr.conf"
"$FSFILTER" check "$base/mr.conf" >/dev/null 2>&1 && it_fail "check accepted options = max_read=4096"

# the config key, mounted
printf '[volume]\nlower = %s\nmountpoint = %s\nxattr = false\n' "$lower" "$base/mnt" >"$base/ok.conf"
IT_LOG=$base/config.log
it_mount "$lower" "$base/mnt" --config "$base/ok.conf"
out=$(getfattr -n user.keep "$base/mnt/f" 2>&1) &&
	it_fail "xattr = false: getxattr succeeded: $out"
grep -q "Operation not supported" <<<"$out" ||
	it_fail "xattr = false: wanted EOPNOTSUPP, got: $out"
it_unmount "$base/mnt"
printf '[volume]\nlower = %s\nmountpoint = %s\nxattr = maybe\n' "$lower" "$base/mnt" >"$base/bad.conf"
"$FSFILTER" check "$base/bad.conf" >/dev/null 2>&1 && it_fail "check accepted xattr = maybe"

# check refuses what mount would: an option libfuse does not know (mount
# fails with exit 2), and takes what it would (empty items, an escaped
# comma, fsfilter's own switches among kernel options)
printf '[volume]\nlower = %s\nmountpoint = %s\noptions = noatime,,bogus_opt\n' "$lower" "$base/mnt" >"$base/unk.conf"
rc=0
out=$("$FSFILTER" check "$base/unk.conf" 2>&1) || rc=$?
((rc == 2)) || it_fail "check of options = noatime,,bogus_opt: exit $rc, wanted 2: $out"
grep -q "bogus_opt" <<<"$out" || it_fail "check: the unknown option is not named: $out"
rc=0
out=$(timeout 20 "$FSFILTER" mount -f --config "$base/unk.conf" 2>&1) || rc=$?
((rc == 2)) || it_fail "mount of options = noatime,,bogus_opt: exit $rc, wanted 2: $out"
it_is_mounted "$base/mnt" && it_fail "options = bogus_opt mounted"
printf '[volume]\nlower = %s\nmountpoint = %s\noptions = ro,,noatime,xattr=off,fsname=a\\,b\n' "$lower" "$base/mnt" >"$base/good.conf"
out=$("$FSFILTER" check "$base/good.conf" 2>&1) || it_fail "check refused options = ro,,noatime,xattr=off,fsname=a\\,b: $out"
exit 0
