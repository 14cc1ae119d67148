#!/usr/bin/env bash
# The worked example of docs/for-windows-minifilter-developers.md, run as written: the
# first ```sh block after "Worked example", with /srv/data and /mnt/data
# replaced by temp dirs and fsfilter/scanner by the built ones. A line
# commented "allowed" must succeed, "Permission denied" must fail with it.
# Env: SRC_DIR, FSFILTER, SCANNER (set by CMake).
. "$SRC_DIR/tests/integration/lib.sh"
IT_NAME=porting_example
it_init
[[ -x ${SCANNER:-} ]] || it_fail "SCANNER not set"
doc=$SRC_DIR/docs/for-windows-minifilter-developers.md
block=$(awk '/^## Worked example/ { w = 1 } w && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' "$doc")
[[ -n $block ]] || it_fail "no sh block in the worked example"
it_tmpdir base
mkdir "$base/data" "$base/mnt" "$base/bin"
printf 'nothing to see\n' >"$base/data/clean.txt"
printf 'this one is foul\n' >"$base/data/infected.txt"
ln -s "$FSFILTER" "$base/bin/fsfilter"
ln -s "$SCANNER" "$base/bin/scanner"
export PATH=$base/bin:$PATH
IT_MOUNTS+=("$base/mnt")
steps=0
while IFS= read -r line; do
	cmd=${line%%#*}
	comment=${line#"$cmd"}
	cmd=${cmd//\/srv\/data/$base/data}
	cmd=${cmd//\/mnt\/data/$base/mnt}
	[[ $cmd =~ [^[:space:]] ]] || continue
	steps=$((steps + 1))
	if [[ $cmd == *"&"*([[:space:]]) ]]; then	# a server: wait until ready
		cmd=${cmd%&*}
		eval "$cmd" >"$base/bg.out" 2>&1 &
		IT_PIDS+=("$!")
		for _ in $(seq 100); do grep -q ready "$base/bg.out" && break; sleep 0.05; done
		grep -q ready "$base/bg.out" || it_fail "'$cmd' never got ready: $(cat "$base/bg.out")"
		continue
	fi
	out=$(eval "$cmd" 2>&1)
	rc=$?
	case $comment in
	*"Permission denied"*)
		((rc != 0)) && [[ $out == *"Permission denied"* ]] ||
			it_fail "'$cmd' should be denied: rc $rc: $out" ;;
	*)
		((rc == 0)) || it_fail "'$cmd' failed ($rc): $out" ;;
	esac
	[[ $cmd == *" mount "* ]] && it_note_mount "$base/mnt"
done <<<"$block"
((steps == 4)) || it_fail "ran $steps steps of the example, expected 4"
# the scanner prints its line after it answered: give it a moment
for _ in $(seq 100); do grep -q "DENY  /infected.txt" "$base/bg.out" && break; sleep 0.05; done
grep -q "DENY  /infected.txt" "$base/bg.out" || it_fail "the scanner did not report the deny: $(cat "$base/bg.out")"
it_unmount "$base/mnt"
it_log "ok"
