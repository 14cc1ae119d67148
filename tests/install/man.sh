#!/usr/bin/env bash
# Every man page renders without a single groff/man warning at 80 columns;
# the pages agree with the program: every command of `fsfilter --help` has
# an entry in fsfilter(1), every [volume] key the parser accepts is in
# fsfilter.conf(5), the exit codes of cli.h are in fsfilter(1); the example
# filter of fsfilter-filter-api(3) compiles against include/ as shown.
# Env: SRC_DIR, FSFILTER.
set -u
fail() { echo "man: FAIL: $*" >&2; exit 1; }
command -v man >/dev/null || { echo "man: SKIP: no man(1)" >&2; exit 77; }
tmp=$(mktemp -d /tmp/fsfilter-man.XXXXXX) || fail mktemp
trap 'rm -rf "$tmp"' EXIT
pages=(fsfilter.1 fsfilter.conf.5 fsfilter-redirect.7 fsfilter-monitor.7
       fsfilter-crypt.7 fsfilter-filter-api.3 mount.fsfilter.8)
for p in "${pages[@]}"; do
	f=$SRC_DIR/man/$p
	[[ -f $f ]] || fail "missing man/$p"
	MANWIDTH=80 man --warnings -E UTF-8 -l "$f" >"$tmp/out" 2>"$tmp/err" ||
		fail "$p: man exited $?: $(cat "$tmp/err")"
	[[ -s $tmp/err ]] && fail "$p: warnings: $(cat "$tmp/err")"
	grep -q '^NAME' "$tmp/out" && grep -q '^SEE ALSO' "$tmp/out" ||
		fail "$p: no NAME or SEE ALSO section"
	# a line longer than 80 columns means a bad break (e.g. an unbreakable .EX)
	# (characters, not bytes: mawk's length counts the bytes of a bullet
	# or a hyphenation sign in the UTF-8 rendering)
	python3 -c 'import sys
bad = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if len(l) > 80]
print("\n".join(bad))
sys.exit(1 if bad else 0)' "$tmp/out" ||
		fail "$p: lines wider than 80 columns"
	cp "$tmp/out" "$tmp/$p.txt"
done

# fsfilter(1) documents every command of the usage text
cmds=$("$FSFILTER" --help | awk '$1 == "fsfilter" && $2 ~ /^[a-z]/ { split($2, a, "|"); for (i in a) print a[i] }' | sort -u)
[[ -n $cmds ]] || fail "no commands in fsfilter --help"
for c in $cmds; do
	grep -Eq "^       $c( |$)" "$tmp/fsfilter.1.txt" ||
		fail "fsfilter(1) has no entry for command '$c'"
done
# exit codes: cli.h's CLI_* values each have an entry
for code in $(awk '/^#define CLI_[A-Z]+ [0-9]+/ { print $3 }' "$SRC_DIR/src/cli/cli.h"); do
	sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/fsfilter.1.txt" | grep -Eq "^       $code  " ||
		fail "fsfilter(1) EXIT STATUS lacks $code"
done

# fsfilter.conf(5) lists every [volume] key the parser knows (the parser
# names them all in its unknown-key error)
printf '[volume]\nnot_a_key = 1\n' >"$tmp/bad.conf"
msg=$("$FSFILTER" check "$tmp/bad.conf" 2>&1)
[[ $msg == *"bad.conf:2: unknown key 'not_a_key' in [volume] (expected: "* ]] ||
	fail "unexpected check message: $msg"
keys=${msg##*expected: }
keys=${keys%)}
for k in ${keys//,/ }; do
	grep -Eq "^       $k = " "$tmp/fsfilter.conf.5.txt" ||
		fail "fsfilter.conf(5) does not document [volume] key '$k'"
done

# the example of fsfilter.conf(5) passes fsfilter check (its directories
# replaced by temp dirs)
mkdir "$tmp/lower" "$tmp/mnt"
sed -n '/^EXAMPLE/,/^SEE ALSO/p' "$tmp/fsfilter.conf.5.txt" | sed -n '/^       ; /,/^       Then:/p' |
	sed 's/^       //; /^Then:/d' | sed "s|/srv/data|$tmp/lower|; s|/srv/view|$tmp/mnt|" >"$tmp/example.conf"
grep -q '^\[volume\]' "$tmp/example.conf" || fail "no example config in fsfilter.conf(5)"
msg=$("$FSFILTER" check "$tmp/example.conf" 2>/dev/null)
[[ $msg == "$tmp/example.conf: ok (3 filters)" ]] ||
	fail "the example of fsfilter.conf(5) does not pass fsfilter check: $("$FSFILTER" check "$tmp/example.conf" 2>&1)"

# the example filter of fsfilter-filter-api(3) builds as printed
sed -n '/^EXAMPLE/,/^FILES/p' "$tmp/fsfilter-filter-api.3.txt" |
	sed -n '/#include <fsfilter/,/FLT_DECLARE_FILTER/p' | sed 's/^       //' >"$tmp/readonly.c"
[[ -s $tmp/readonly.c ]] || fail "no example in fsfilter-filter-api(3)"
cc -std=c17 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
	-I"$SRC_DIR/include" "$tmp/readonly.c" -o "$tmp/readonly.so" ||
	fail "the example of fsfilter-filter-api(3) does not compile"
nm -D --defined-only "$tmp/readonly.so" | grep -q ' fsfilter_registration$' ||
	fail "the example does not export fsfilter_registration"
echo "man: ok (${#pages[@]} pages)"
