#!/usr/bin/env bash
# redirect filter, watch=on (docs/redirect.md, "Coherency: watch=on"):
# backing files changed behind the volume's back (written in place,
# appended, replaced by rename, truncated, created, deleted, in a new
# subdirectory) show through the volume without a remount, while the
# kernel would otherwise keep the old attributes and pages for an hour
# (--timeout 3600 on redirected lower files). Every check polls with a
# bound; no timing is asserted. An open handle keeps reading the file it
# opened (fast path). watch_max= bounds the watched directories.
# Run with ARG "fastpath=off" to force the daemon-served read path.
. "$(dirname "$0")/lib.sh"
it_init
extra=${1:-fastpath=on}

it_tmpdir base
lower=$base/lower mnt=$base/mnt back=$base/back
mkdir -p "$lower/t/sub" "$mnt" "$back/tree"
printf 'lower f\n' >"$lower/f.txt"
printf 'v1 original\n' >"$back/f"
# prefix: lower files the tree shadows (lower nodes, cached for an hour)
printf 'lower a\n' >"$lower/t/a"
printf 'lower c, not yet shadowed\n' >"$lower/t/sub/c"
printf 'tree a\n' >"$back/tree/a"
it_mount "$lower" "$mnt" --timeout 3600 \
	--filter "redirect:rule=/f.txt=>$back/f,watch=on;$extra"
"$FSFILTER" redirect add "$mnt" "/t/=>$back/tree" --watch || it_fail "add --watch"
"$FSFILTER" redirect list "$mnt" | grep -qx "/t/=>$back/tree,policy=readonly,errno=EACCES,watch=on" ||
	it_fail "list: $("$FSFILTER" redirect list "$mnt")"

# poll CMD... until it succeeds, at most 10 s
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }
check() {	# FILE CONTENT WHAT: size and content through the volume follow
	local n=$((${#2} + 1))
	wait_for size_is "$1" "$n" ||
		it_fail "$3: size $(stat -c %s "$1" 2>&1), expected $n"
	wait_for content_is "$1" "$2" || it_fail "$3: content '$(cat "$1" 2>&1)'"
}

# cached: read and stat, twice
for i in 1 2; do
	check "$mnt/f.txt" 'v1 original' "before"
	check "$mnt/t/a" 'tree a' "prefix before"
	check "$mnt/t/sub/c" 'lower c, not yet shadowed' "lower c before"
done

# written in place (same size), then appended
printf 'v2 in-place' | dd of="$back/f" conv=notrunc status=none
check "$mnt/f.txt" 'v2 in-place' "written in place"
printf 'appended line\n' >>"$back/f"
check "$mnt/f.txt" $'v2 in-place\nappended line' "appended"

# replaced by rename, with a handle open on the old file
exec 7<"$mnt/f.txt"
printf 'v3 replaced by rename, longer\n' >"$back/f.new"
mv "$back/f.new" "$back/f"
wait_for size_is "$mnt/f.txt" 30 || it_fail "renamed: size $(stat -c %s "$mnt/f.txt")"
if [[ $extra != fastpath=off ]]; then
	# (the daemon path shares one page cache per node between the
	# handles of both versions: docs/redirect.md)
	[[ $(cat <&7) == $'v2 in-place\nappended line' ]] || it_fail "the old handle read something else"
fi
exec 7<&-
check "$mnt/f.txt" 'v3 replaced by rename, longer' "replaced by rename"

# truncated
truncate -s 8 "$back/f"
wait_for size_is "$mnt/f.txt" 8 || it_fail "truncated: size $(stat -c %s "$mnt/f.txt")"
wait_for content_is "$mnt/f.txt" 'v3 repla' || it_fail "truncated: '$(cat "$mnt/f.txt")'"
it_log "ok: exact rule (in place, append, rename, truncate)"

# prefix tree: a shadowed file changes, a name appears and goes, a new
# subdirectory appears with a file that shadows a cached lower one, which
# then changes (the new directory is watched too)
printf 'tree a, changed\n' >"$back/tree/a"
check "$mnt/t/a" 'tree a, changed' "prefix: changed"
printf 'tree b, new\n' >"$back/tree/b"
check "$mnt/t/b" 'tree b, new' "prefix: created"
mkdir "$back/tree/sub"
printf 'tree c\n' >"$back/tree/sub/c"
check "$mnt/t/sub/c" 'tree c' "prefix: new subdirectory"
printf 'tree c, changed\n' >"$back/tree/sub/c.new"
mv "$back/tree/sub/c.new" "$back/tree/sub/c"
check "$mnt/t/sub/c" 'tree c, changed' "prefix: changed in the new subdirectory"
rm "$back/tree/b"
wait_for test ! -e "$mnt/t/b" || it_fail "prefix: deleted name still there"
rm "$back/tree/sub/c"
check "$mnt/t/sub/c" 'lower c, not yet shadowed' "prefix: the lower file again"
it_log "ok: prefix rule"

# status figures of the watch thread
"$FSFILTER" status "$mnt" --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
f = [i for i in st["instances"] if i["filter"] == "redirect"][0]["figures"]
ok = f["watch.dirs"] == 3 and f["watch.events"] > 0 and f["watch.refreshed"] > 0
sys.exit(0 if ok else print(f) or 1)' || it_fail "status: watch figures"

# removing the rule stops watching it; the exact rule still works
"$FSFILTER" redirect remove "$mnt" /t/ || it_fail "remove"
printf 'v4\n' >"$back/f"
check "$mnt/f.txt" 'v4' "after removing the other rule"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"

# watch=on for every rule, bounded by watch_max=: one directory
mkdir -p "$back/tree/d1" "$back/tree/d2"
IT_LOG=$base/daemon2.log
it_mount "$lower" "$mnt" --timeout 3600 \
	--filter "redirect:watch=on;watch_max=1;rule=/t/=>$back/tree;$extra"
check "$mnt/t/a" 'tree a, changed' "watch_max: before"
printf 'tree a, third\n' >"$back/tree/a"
check "$mnt/t/a" 'tree a, third' "watch_max: the root of the tree is watched"
grep -q "watch_max=1 directories reached" "$IT_LOG" || it_fail "no watch_max warning: $(cat "$IT_LOG")"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"
it_log "ok"
