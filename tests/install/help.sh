#!/usr/bin/env bash
# `fsfilter help COMMAND` for every command of --help (exit 0, a Usage
# line naming the command), an unknown one exits 2; the bash completion
# file loads in bash (with and without the bash-completion package) and
# completes commands, subcommands, options and mounted volumes.
# Env: SRC_DIR, FSFILTER.
set -u
fail() { echo "help: FAIL: $*" >&2; exit 1; }
cmds=$("$FSFILTER" --help | awk '$1 == "fsfilter" && $2 ~ /^[a-z]/ { split($2, a, "|"); for (i in a) print a[i] }' | sort -u)
[[ $cmds == *mount* ]] || fail "no commands in --help"
for c in $cmds umount; do
	out=$("$FSFILTER" help "$c") || fail "fsfilter help $c exited $?"
	want=$c
	[[ $c == umount ]] && want=unmount
	grep -q "^Usage: fsfilter $want\b" <<<"$out" || fail "fsfilter help $c: no 'Usage: fsfilter $want' line"
	LC_ALL=C awk 'length > 80 { exit 1 }' <<<"$out" || fail "fsfilter help $c: lines over 80 columns"
done
# fsfilter CMD --help works for every command (spy has its own, longer one)
for c in $cmds; do
	[[ $c == help ]] && continue
	out=$("$FSFILTER" "$c" --help 2>&1) || fail "fsfilter $c --help exited $?: $out"
	grep -qi "^usage: fsfilter $c\b" <<<"$out" || fail "fsfilter $c --help: no usage line: $out"
done
"$FSFILTER" help no-such-command >/dev/null 2>&1
rc=$?
((rc == 2)) || fail "help of an unknown command exited $rc, expected 2"
"$FSFILTER" help >/dev/null || fail "fsfilter help (no command) failed"

# --- bash completion ------------------------------------------------------------
comp=$SRC_DIR/dist/fsfilter.bash-completion
complete_words() { # complete_words [--bc] WORDS...: COMPREPLY for the last word
	local bc=
	[[ $1 == --bc ]] && { bc=1; shift; }
	BC=$bc COMP=$comp bash --norc --noprofile -c '
		if [[ -n $BC ]]; then . /usr/share/bash-completion/bash_completion || exit 3; fi
		. "$COMP" || exit 4
		complete -p fsfilter >/dev/null || exit 5
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_fsfilter fsfilter "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$@"
}
variants=(plain)
[[ -f /usr/share/bash-completion/bash_completion ]] && variants+=(--bc)
for v in "${variants[@]}"; do
	flag=
	[[ $v == --bc ]] && flag=--bc
	got=$(complete_words $flag fsfilter "") || fail "completion did not load ($v)"
	for c in $cmds; do
		grep -qx "$c" <<<"$got" || fail "($v) 'fsfilter <TAB>' lacks $c: $got"
	done
	got=$(complete_words $flag fsfilter st)
	[[ $got == status ]] || fail "($v) 'fsfilter st<TAB>': $got"
	got=$(complete_words $flag fsfilter mount --fil)
	[[ $got == --filter ]] || fail "($v) 'fsfilter mount --fil<TAB>': $got"
	got=$(complete_words $flag fsfilter mount /a /b --filter mon)
	[[ $got == monitor ]] || fail "($v) '--filter mon<TAB>': $got"
	got=$(complete_words $flag fsfilter redirect "")
	[[ $(echo $got) == "add cancel dehydrate hydrate list remove" ]] || fail "($v) 'redirect <TAB>': $got"
	got=$(complete_words $flag fsfilter help cry)
	[[ $got == crypt ]] || fail "($v) 'help cry<TAB>': $got"
	got=$(complete_words $flag fsfilter crypt init /x --key)
	[[ $got == --keyfile ]] || fail "($v) 'crypt init /x --key<TAB>': $got"
	got=$(complete_words $flag fsfilter --color=al)
	[[ $got == --color=always ]] || fail "($v) 'fsfilter --color=al<TAB>': $got"
	got=$(complete_words $flag fsfilter --color never st)
	[[ $got == status ]] || fail "($v) 'fsfilter --color never st<TAB>': $got"
	got=$(complete_words $flag fsfilter mount /a /b -o ro,xa)
	[[ $got == ro,xattr=off ]] || fail "($v) 'mount -o ro,xa<TAB>': $got"
	got=$(complete_words $flag fsfilter check --js)
	[[ $got == --json ]] || fail "($v) 'fsfilter check --js<TAB>': $got"
	fdir=$(mktemp -d /tmp/fsfilter-help-fdir.XXXXXX) || fail mktemp
	: >"$fdir/myfilter.so"
	got=$(FSFILTER_FILTER_PATH=$fdir complete_words $flag fsfilter load /mnt myf)
	got2=$(FSFILTER_FILTER_PATH=$fdir complete_words $flag fsfilter attach /mnt myf)
	rm -rf "$fdir"
	[[ $got == myfilter ]] || fail "($v) 'load /mnt myf<TAB>' with FSFILTER_FILTER_PATH: $got"
	[[ $got2 == myfilter ]] || fail "($v) 'attach /mnt myf<TAB>' with FSFILTER_FILTER_PATH: $got2"
	# mounted volumes: whatever fsfilter mounts exist now (maybe none)
	# (other tests mount and unmount meanwhile: each name offered must have
	# been a mounted fsfilter volume just before or just after)
	before=$(awk '$3 == "fuse.fsfilter" { print $2 }' /proc/self/mounts)
	got=$(complete_words $flag fsfilter status "")
	after=$(awk '$3 == "fuse.fsfilter" { print $2 }' /proc/self/mounts)
	while read -r m; do
		[[ -z $m ]] && continue
		grep -qxF "$m" <<<"$before"$'\n'"$after" ||
			fail "($v) 'status <TAB>' offered $m, not an fsfilter mount"
	done <<<"$got"
done
# a volume of our own is offered
if [[ -c /dev/fuse ]] && ((EUID == 0)); then
	d=$(mktemp -d /tmp/fsfilter-help.XXXXXX) || fail mktemp
	trap '"$FSFILTER" unmount "$d/m a" >/dev/null 2>&1; rm -rf "$d"' EXIT
	mkdir "$d/l" "$d/m a"
	"$FSFILTER" mount "$d/l" "$d/m a" || fail "mount for the completion test"
	got=$(complete_words fsfilter unmount "$d/m")
	grep -qxF "$d/m a" <<<"$got" || fail "'unmount $d/m<TAB>' does not offer '$d/m a': $got"
	"$FSFILTER" unmount "$d/m a" || fail "unmount"
fi
echo "help: ok (${#variants[@]} completion variants)"
