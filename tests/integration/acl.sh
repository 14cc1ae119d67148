#!/usr/bin/env bash
# POSIX ACLs (FUSE_POSIX_ACL, negotiated when the lower root stores ACLs):
# the kernel checks access with the lower files' ACLs (a named-user entry
# grants and denies for a non-root user), new objects get the caller's
# umask without a default ACL and the parent's default ACL (umask ignored)
# with one, exactly as natively; setfacl and chmod through the volume reach
# the lower file with mode and ACL mask consistent; the kernel keeps an
# inode's ACL cached (a second `ls -l` of named files within the attribute
# timeout sends no GETXATTR of system.posix_acl_access). A part of the
# lower tree without ACLs (ramfs mounted inside it) stays usable, and a
# lower root without ACLs is mounted without POSIX ACLs.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init
it_forget_mounts
command -v setfacl >/dev/null && command -v getfacl >/dev/null ||
	it_skip "setfacl/getfacl missing (package acl)"
command -v setpriv >/dev/null || it_skip "setpriv missing (util-linux)"

it_tmpdir base
chmod 755 "$base"
lower=$base/lower mnt=$base/mnt
mkdir "$lower" "$mnt" "$lower/d" "$lower/native" "$lower/ls"
setfacl -m u:nobody:r "$lower/d" 2>/dev/null ||
	it_skip "the lower file system of ${TMPDIR:-/tmp} has no POSIX ACLs"
setfacl -b "$lower/d"
chmod 755 "$lower" "$lower/d"

# as nobody (no supplementary groups)
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# mode and ACL of PATH, without the "# file:" line
acl_of() { stat -c '%A %U %G' "$1" && getfacl -cp "$1" 2>/dev/null; }

# named-user entries: f is 0640 root:root + user:nobody:r (grants);
# g is 0644 + user:nobody:--- (denies). Mode bits alone say the opposite.
printf 'f\n' >"$lower/d/f"
printf 'g\n' >"$lower/d/g"
chmod 0640 "$lower/d/f"
chmod 0644 "$lower/d/g"
setfacl -m u:nobody:r "$lower/d/f"
setfacl -m u:nobody:- "$lower/d/g"
as_nobody cat "$lower/d/f" >/dev/null || it_fail "natively nobody cannot read f"
as_nobody cat "$lower/d/g" >/dev/null 2>&1 && it_fail "natively nobody reads g"

# a default ACL: what the volume makes in $lower/d/def must equal what is
# made natively in $lower/native/def
mkdir "$lower/d/def" "$lower/native/def"
for x in "$lower/d/def" "$lower/native/def"; do
	setfacl -d -m u::rwx,g::rwx,o::rx,u:nobody:rwx "$x"
done
for ((i = 0; i < 20; i++)); do : >"$lower/ls/e$i"; done

IT_LOG=$base/daemon.log
# a long attribute timeout: the caching figure must not depend on timing
it_mount "$lower" "$mnt" -d --timeout 60
grep -q "POSIX ACLs negotiated" "$IT_LOG" || it_fail "POSIX ACLs not negotiated"

# 1. the kernel enforces the lower ACLs
[[ $(as_nobody cat "$mnt/d/f" 2>&1) == f ]] ||
	it_fail "user:nobody:r on f does not grant read through the volume"
out=$(as_nobody cat "$mnt/d/g" 2>&1) &&
	it_fail "user:nobody:--- on g does not deny read through the volume"
grep -q "Permission denied" <<<"$out" || it_fail "reading g as nobody: $out"

# 2. umask without a default ACL: the caller's, for files, dirs and nodes
(umask 027 && : >"$mnt/d/u_file" && mkdir "$mnt/d/u_dir" && mkfifo "$mnt/d/u_fifo") ||
	it_fail "create with umask 027 through the volume"
[[ $(stat -c %a "$lower/d/u_file" "$lower/d/u_dir" "$lower/d/u_fifo" | tr '\n' ' ') == "640 750 640 " ]] ||
	it_fail "umask 027 not applied: $(stat -c '%n %a' "$lower/d/u_file" "$lower/d/u_dir" "$lower/d/u_fifo")"
(umask 002 && : >"$mnt/d/u2") && [[ $(stat -c %a "$lower/d/u2") == 664 ]] ||
	it_fail "umask 002: $(stat -c %a "$lower/d/u2")"

# 3. a default ACL wins over the umask, exactly as natively
for x in "$mnt/d/def" "$lower/native/def"; do
	(umask 077 && : >"$x/file" && mkdir "$x/dir" && mkdir "$x/dir/sub") ||
		it_fail "create under a default ACL in $x"
done
for o in file dir dir/sub; do
	v=$(acl_of "$lower/d/def/$o") n=$(acl_of "$lower/native/def/$o")
	[[ $v == "$n" ]] || it_fail "default ACL, $o: through the volume
$v
natively
$n"
done
[[ $(stat -c %a "$lower/d/def/file") == 664 ]] ||
	it_fail "default ACL + umask 077: file mode $(stat -c %a "$lower/d/def/file"), natively 664"
[[ $(as_nobody sh -c "echo w >>'$mnt/d/def/file'" 2>&1) == "" ]] ||
	it_fail "the inherited user:nobody:rw- does not let nobody write"

# 4. setfacl and chmod through the volume reach the lower file
printf 'h\n' >"$mnt/d/h"
chmod 0600 "$mnt/d/h"
as_nobody cat "$mnt/d/h" >/dev/null 2>&1 && it_fail "nobody reads a 0600 file"
setfacl -m u:nobody:rw "$mnt/d/h" || it_fail "setfacl through the volume"
getfacl -cp "$lower/d/h" | grep -qx 'user:nobody:rw-' ||
	it_fail "setfacl through the volume not on the lower file: $(getfacl -cp "$lower/d/h")"
[[ $(stat -c %a "$lower/d/h") == 660 ]] || it_fail "mask not in the mode: $(stat -c %a "$lower/d/h")"
[[ $(as_nobody cat "$mnt/d/h" 2>&1) == h ]] || it_fail "the new ACL does not grant nobody read"
[[ $(acl_of "$mnt/d/h") == "$(acl_of "$lower/d/h")" ]] ||
	it_fail "getfacl differs: volume $(acl_of "$mnt/d/h") lower $(acl_of "$lower/d/h")"
as_nobody sh -c "echo w >>'$mnt/d/h'" || it_fail "the new ACL does not grant nobody write"
# the kernel must forget the ACL it cached: the mask is now r--
chmod 0640 "$mnt/d/h" || it_fail "chmod through the volume"
getfacl -cp "$lower/d/h" | grep -qx 'mask::r--' ||
	it_fail "chmod g=r did not set the mask: $(getfacl -cp "$lower/d/h")"
as_nobody sh -c "echo w >>'$lower/d/h'" 2>/dev/null && it_fail "natively mask r-- lets nobody write"
as_nobody sh -c "echo w >>'$mnt/d/h'" 2>/dev/null && it_fail "mask r-- still lets nobody write"
[[ $(as_nobody head -n1 "$mnt/d/h" 2>&1) == h ]] || it_fail "mask r-- does not let nobody read"
[[ $(acl_of "$mnt/d/h") == "$(acl_of "$lower/d/h")" ]] ||
	it_fail "after chmod: volume $(acl_of "$mnt/d/h") lower $(acl_of "$lower/d/h")"
setfacl -b "$mnt/d/h" || it_fail "setfacl -b through the volume"
[[ -z $(getfattr -m - --absolute-names -d "$lower/d/h" 2>/dev/null | grep posix_acl) ]] ||
	it_fail "setfacl -b left an ACL on the lower file"

# 5. cached ACLs: the second ls -l of the same files sends no GETXATTR of
# system.posix_acl_access (the kernel forgets an inode's ACL only when it
# refreshes its attributes: a READDIRPLUS does, so this names the files)
# Another process's drop_caches (a shared machine) drops the inodes and
# their ACLs for real: an attempt during which /proc/vmstat counted one is
# not a figure, and is taken again.
drops() { awk '/^drop_(pagecache|slab) /{ n += $2 } END { print n + 0 }' /proc/vmstat; }
names=("$mnt"/ls/e*)
acl=-1
for ((try = 0; try < 5 && acl < 0; try++)); do
	d0=$(drops)
	ls -l "${names[@]}" >/dev/null || it_fail "ls -l (first)"
	sleep 0.3
	m=$(wc -l <"$IT_LOG")
	ls -l "${names[@]}" >/dev/null || it_fail "ls -l (second)"
	sleep 0.3
	[[ $(drops) == "$d0" ]] || { it_log "caches dropped from elsewhere: again"; continue; }
	acl=$(tail -n +"$((m + 1))" "$IT_LOG" | grep -c 'dispatch: getxattr.*name: "system.posix_acl_access"')
	sel=$(tail -n +"$((m + 1))" "$IT_LOG" | grep -c 'dispatch: getxattr.*name: "security.selinux"')
done
if ((acl < 0)); then
	it_log "caches dropped during every attempt: no ACL cache figure"
else
	it_log "second ls -l of ${#names[@]} files: $acl system.posix_acl_access, $sel security.selinux GETXATTR"
	((acl == 0)) || it_fail "second ls -l asked system.posix_acl_access $acl times"
	((sel >= ${#names[@]})) || it_fail "the trace did not count the GETXATTRs ($sel security.selinux)"
fi
it_unmount "$mnt"

# 6. a part of the lower tree without ACLs (ramfs: EOPNOTSUPP): usable
mkdir "$lower/noacl"
mount -t ramfs ramfs "$lower/noacl" || it_skip "cannot mount ramfs"
chmod 755 "$lower/noacl"
printf 'r\n' >"$lower/noacl/r"
chmod 0644 "$lower/noacl/r"
IT_LOG=$base/daemon2.log
it_mount "$lower" "$mnt"
[[ $(as_nobody cat "$mnt/noacl/r" 2>&1) == r ]] ||
	it_fail "nobody cannot read a 0644 file of a lower part without ACLs: $(as_nobody cat "$mnt/noacl/r" 2>&1)"
(umask 027 && : >"$mnt/noacl/u" && mkdir "$mnt/noacl/ud") &&
	[[ $(stat -c %a "$lower/noacl/u" "$lower/noacl/ud" | tr '\n' ' ') == "640 750 " ]] ||
	it_fail "umask 027 on the ramfs part: $(stat -c '%n %a' "$lower/noacl/u" "$lower/noacl/ud")"
out=$(setfacl -m u:nobody:r "$mnt/noacl/r" 2>&1) && it_fail "setfacl on ramfs succeeded"
grep -q "Operation not supported" <<<"$out" || it_fail "setfacl on ramfs: $out"
it_unmount "$mnt"

# 7. a lower root without ACLs: mounted without them
IT_LOG=$base/daemon3.log
mkdir "$base/mnt3"
it_mount "$lower/noacl" "$base/mnt3"
grep -q "POSIX ACLs negotiated" "$IT_LOG" && it_fail "POSIX ACLs negotiated on ramfs"
[[ $(as_nobody cat "$base/mnt3/r" 2>&1) == r ]] || it_fail "ramfs lower: nobody cannot read r"
(umask 027 && : >"$base/mnt3/u3") && [[ $(stat -c %a "$lower/noacl/u3") == 640 ]] ||
	it_fail "ramfs lower: umask 027 gave $(stat -c %a "$lower/noacl/u3")"
it_unmount "$base/mnt3"
umount "$lower/noacl"
exit 0
