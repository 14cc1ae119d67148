#!/usr/bin/env bash
# The watch of the lower directory (src/lower/watch.c): with the default
# ("auto") timeout the kernel keeps names, attributes and listings for an
# hour, so a change made directly in the lower directory shows through the
# volume only because the watch invalidated it. Each change below is made
# after the volume cached what it changes, and must show within 5 s (polled;
# an hour-long timeout cannot expire meanwhile, so without invalidation it
# fails). Also: two volumes over one lower see each other's changes; a
# filter with READDIR callbacks still sees every listing while a volume
# without one answers a warm listing from the kernel's cache; with an
# explicit --timeout there is no watch (status says so) and changes show
# by expiry as before.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init
it_forget_mounts

it_tmpdir base
command -v python3 >/dev/null || it_skip "no python3"

# vol_json MNT KEY: a field of the volume's status --json
vol_json() {
	"$FSFILTER" status "$1" --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["volume"].get(sys.argv[1]))' "$2"
}
# eventually WHAT CMD...: CMD succeeds within 5 s
eventually() {
	local what=$1 i
	shift
	for ((i = 0; i < 50; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	it_fail "$what: not seen through the volume within 5 s"
}
drops() { awk '/^drop_(pagecache|slab) /{ n += $2 } END { print n + 0 }' /proc/vmstat; }

L=$base/lower M=$base/mnt
mkdir "$L" "$M"
it_mount "$L" "$M"
w=$(vol_json "$M" lower_watch) || it_fail "status --json of $M"
[[ $w == True || $w == False ]] || it_fail "status --json of $M: lower_watch is '$w'"
[[ $w == True ]] ||
	it_skip "no watch of the lower directory here (file system $(stat -f -c %T "$L"), see the daemon log)"
t=$(vol_json "$M" timeout)
python3 -c 'import sys; sys.exit(float(sys.argv[1]) < 600)' "$t" ||
	it_fail "watched volume has timeout $t, not a long one"

# --- one volume: every kind of change, each cached first --------------------------
mkdir "$L/d"
for f in a b c g; do echo "$f" >"$L/$f"; done
ls -l "$M" "$M/d" >/dev/null || it_fail "ls"
stat "$M/a" "$M/b" "$M/c" "$M/g" >/dev/null || it_fail "stat"
stat "$M/new" >/dev/null 2>&1 && it_fail "new exists before"

echo x >"$L/new"
eventually "create (listing)" bash -c "ls '$M' | grep -qx new"
eventually "create (stat)" stat "$M/new" >/dev/null

rm "$L/a"
eventually "unlink (stat)" bash -c "! stat '$M/a' 2>/dev/null"
eventually "unlink (listing)" bash -c "! ls '$M' | grep -qx a"

mv "$L/b" "$L/b2"
eventually "rename (old name)" bash -c "! stat '$M/b' 2>/dev/null"
eventually "rename (new name)" bash -c "[[ \$(cat '$M/b2') == b ]]"

[[ $(stat -c %a "$M/c") == 644 ]] || it_fail "mode of c: $(stat -c %a "$M/c")"
chmod 600 "$L/c"
eventually "chmod" bash -c "[[ \$(stat -c %a '$M/c') == 600 ]]"

[[ $(cat "$M/g") == g ]] || it_fail "content of g"
echo more >>"$L/g"
eventually "write (size)" bash -c "[[ \$(stat -c %s '$M/g') == 7 ]]"
eventually "write (content)" bash -c "[[ \$(tail -n1 '$M/g') == more ]]"

if setfacl -m u:65534:r "$L/g" 2>/dev/null; then
	setfacl -b "$L/g"
	getfacl -p "$M/g" >/dev/null 2>&1 || it_fail "getfacl"
	setfacl -m u:65534:r "$L/g"
	eventually "ACL change" bash -c "getfacl -pn '$M/g' 2>/dev/null | grep -q '^user:65534:r'"
else
	it_log "no ACLs on the lower file system: ACL step skipped"
fi

ls "$M/d" >/dev/null
mkdir "$L/d/sub"
eventually "mkdir (listing)" bash -c "ls '$M/d' | grep -qx sub"
stat "$M/d/sub" >/dev/null || it_fail "stat sub"
rmdir "$L/d/sub"
eventually "rmdir (listing)" bash -c "! ls '$M/d' | grep -qx sub"
eventually "rmdir (stat)" bash -c "! stat '$M/d/sub' 2>/dev/null"

# --- a filter with READDIR callbacks sees every listing -------------------------------
mkdir "$L/many"
for ((i = 0; i < 20; i++)); do : >"$L/many/f$i"; done
"$FSFILTER" attach "$M" noop >/dev/null || it_fail "attach noop"
readdirs() {
	"$FSFILTER" status "$M" --json | python3 -c 'import json, sys
i = [i for i in json.load(sys.stdin)["instances"] if i["filter"] == "noop"][0]
print(i["pre"].get("readdir", 0) + i["pre"].get("opendir", 0))'
}
ls "$M/many" >/dev/null
r0=$(readdirs)
ls "$M/many" >/dev/null
ls "$M/many" >/dev/null
r1=$(readdirs)
((r1 - r0 >= 4)) || it_fail "noop saw $((r1 - r0)) opendir/readdir for two listings"
"$FSFILTER" detach "$M" noop >/dev/null || it_fail "detach noop"
it_unmount "$M"

# --- a warm listing costs (almost) no request --------------------------------------
# The kernel answers from its cache (FOPEN_CACHE_DIR) and its cached names
# and attributes. With xattrs ls -l also asks every entry's
# security.selinux, which the kernel never caches: --no-xattr here.
L=$base/lx M=$base/mx
mkdir "$L" "$M" "$L/many"
for ((i = 0; i < 200; i++)); do : >"$L/many/f$i"; done
it_mount "$L" "$M" --no-xattr
for ((try = 0; try < 5; try++)); do
	d0=$(drops)
	ls -l "$M/many" >/dev/null || it_fail "ls many"
	n0=$(vol_json "$M" dispatched)
	ls -l "$M/many" >/dev/null || it_fail "ls many again"
	n1=$(vol_json "$M" dispatched)
	[[ $(drops) == "$d0" ]] && break
	it_log "caches dropped from elsewhere meanwhile; again"
done
((try < 5)) || it_skip "caches dropped from elsewhere all the time"
# status itself dispatches nothing; a few requests (the dir's own) may go
((n1 - n0 < 20)) || it_fail "warm ls -l of 200 entries dispatched $((n1 - n0)) requests"
it_log "warm ls -l of 200 entries: $((n1 - n0)) requests"

it_unmount "$M"

# --- two volumes over one lower see each other's changes ---------------------------
S=$base/shared MA=$base/ma MB=$base/mb
mkdir "$S" "$MA" "$MB"
echo one >"$S/f"
it_mount "$S" "$MA"
it_mount "$S" "$MB"
ls -l "$MA" "$MB" >/dev/null
stat "$MA/f" "$MB/f" "$MA/x" "$MB/x" >/dev/null 2>&1
echo x >"$MA/x" || it_fail "create through A"
eventually "create through A, seen in B" bash -c "ls '$MB' | grep -qx x && [[ \$(cat '$MB/x') == x ]]"
rm "$MB/f" || it_fail "unlink through B"
eventually "unlink through B, seen in A" bash -c "! stat '$MA/f' 2>/dev/null && ! ls '$MA' | grep -qx f"
chmod 700 "$MA/x"
eventually "chmod through A, seen in B" bash -c "[[ \$(stat -c %a '$MB/x') == 700 ]]"
it_unmount "$MA"
it_unmount "$MB"

# --- an explicit timeout: no watch, as before --------------------------------------
P=$base/plain PM=$base/pm
mkdir "$P" "$PM"
it_mount "$P" "$PM" --timeout 1
[[ $(vol_json "$PM" lower_watch) == False ]] || it_fail "--timeout 1 still watches"
[[ $(vol_json "$PM" timeout) == 1.0 ]] || it_fail "--timeout 1: status timeout $(vol_json "$PM" timeout)"
ls "$PM" >/dev/null
: >"$P/late"
eventually "create without the watch (expiry)" bash -c "ls '$PM' | grep -qx late"
it_unmount "$PM"
it_log "ok"
