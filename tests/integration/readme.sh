#!/usr/bin/env bash
# README.md's commands, as written:
#   - the two top commands are `scripts/demo` and `scripts/test`, and .ci/run
#     runs exactly `scripts/test` (it_demo_* runs scripts/demo itself);
#   - every ```sh block marked `<!-- tour -->` (the 5-minute tour) runs line
#     by line, in order, in one shell, in a temp dir, with the built fsfilter
#     and scanner first in PATH. A line must succeed, unless its comment says
#     "Permission denied" (then it must fail with that message); a comment
#     "# → TEXT" is output it must print. A line ending in `&` is a client
#     started in the background: the next line runs once it said it is
#     listening ("ready"/"listening"), as it would for someone typing.
# Env: SRC_DIR, FSFILTER, SCANNER (set by CMake).
. "$(dirname "$0")/lib.sh"
readme=$SRC_DIR/README.md

# The two commands.
top=$(awk '/^```sh$/ { b = 1; next } b && /^```$/ { exit } b' "$readme" | sed 's/[[:space:]]*#.*//')
[[ $top == $'scripts/demo\nscripts/test' ]] ||
	it_fail "README's first block is not exactly scripts/demo + scripts/test: '$top'"
grep -qxE 'exec scripts/test( </dev/null)?' "$SRC_DIR/.ci/run" ||
	it_fail ".ci/run does not run exactly scripts/test as README says: $(grep -v '^#' "$SRC_DIR/.ci/run")"
[[ -x $SRC_DIR/scripts/demo && -x $SRC_DIR/scripts/test ]] || it_fail "scripts/demo or scripts/test not executable"

it_init
[[ -x ${SCANNER:-} ]] || it_fail "SCANNER not set"

# The tour: the blocks after each <!-- tour --> marker, in order.
markers=$(grep -c '^<!-- tour -->$' "$readme")
tour=$(awk '/^<!-- tour -->$/ { t = 1; next }
	t == 1 && /^```sh$/ { t = 2; next }
	t == 1 { exit 1 }
	t == 2 && /^```$/ { t = 0; n++; next }
	t == 2 { print }
	END { if (n == 0) exit 1 }' "$readme") || it_fail "a <!-- tour --> marker not followed by a \`\`\`sh block"
((markers >= 4)) || it_fail "only $markers tour blocks (redirect, spy, deny, encrypt expected)"
grep -q '\\$' <<<"$tour" && it_fail "a tour line is continued with \\ (keep them one line each)"

it_tmpdir base
mkdir "$base/bin" "$base/run"
ln -s "$FSFILTER" "$base/bin/fsfilter"
ln -s "$SCANNER" "$base/bin/scanner"
export PATH=$base/bin:$PATH
cd "$base/run" || it_fail "cd"
out=$base/out bg=$base/bg.out steps=0 denied=0 checked=0

# Mounts the tour makes (names after "fsfilter mount LOWER MNT") are
# unmounted by it_cleanup if the tour stops half-way.
while IFS= read -r line; do
	[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
	cmd=$line comment=
	if [[ $line =~ ^(.*[^[:space:]])[[:space:]]+#[[:space:]](.*)$ ]]; then
		cmd=${BASH_REMATCH[1]} comment=${BASH_REMATCH[2]}
	fi
	steps=$((steps + 1))
	if [[ $cmd =~ fsfilter\ mount\ ([^ ]+)\ ([^ ]+) ]]; then
		IT_MOUNTS+=("$PWD/${BASH_REMATCH[2]}")
	fi
	if [[ $cmd == *[^\&]\& ]]; then
		: >"$bg"
		eval "$cmd" >"$bg" 2>&1 </dev/null
		IT_PIDS+=("$!")
		for ((i = 0; i < 200; i++)); do
			grep -qE 'ready|listening' "$bg" && break
			kill -0 "$!" 2>/dev/null || break
			sleep 0.05
		done
		grep -qE 'ready|listening' "$bg" || it_fail "'$cmd' never got ready: $(cat "$bg")"
		continue
	fi
	eval "$cmd" >"$out" 2>&1 </dev/null
	rc=$?
	case $comment in
	*"Permission denied"*)
		((rc != 0)) && grep -q "Permission denied" "$out" ||
			it_fail "'$cmd' should fail with Permission denied: rc $rc: $(cat "$out")"
		denied=$((denied + 1)) ;;
	"→ "*)
		want=${comment#→ }
		want=${want%%  *}
		((rc == 0)) || it_fail "'$cmd' failed ($rc): $(cat "$out")"
		grep -qF -- "$want" "$out" || it_fail "'$cmd' did not print '$want': $(cat "$out")"
		checked=$((checked + 1)) ;;
	*)
		((rc == 0)) || it_fail "'$cmd' failed ($rc): $(cat "$out")" ;;
	esac
	[[ $cmd =~ fsfilter\ mount ]] && it_note_mount "${IT_MOUNTS[-1]}"
done <<<"$tour"
((steps >= 20 && denied >= 2 && checked >= 5)) ||
	it_fail "ran $steps lines ($denied denials, $checked outputs checked): extraction broken?"

# The tour unmounts what it mounted.
for m in "${IT_MOUNTS[@]}"; do
	! it_is_mounted "$m" || it_fail "the tour left $m mounted"
done
it_log "ok ($steps lines, $denied denials, $checked outputs checked)"
