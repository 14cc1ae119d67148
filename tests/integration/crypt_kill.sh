#!/usr/bin/env bash
# kill -9 of the crypt daemon in the middle of fsync'ed writes, then
# remount: every chunk whose fsync returned reads back intact, and the only
# blocks that may fail authentication are those of the write in flight at
# the kill (see "Crash guarantees" in docs/crypt-format.md).
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${CRYPTMODEL:-} ]] || it_fail "CRYPTMODEL not set"
it_tmpdir base
it_crypt_volume "$base"
lower=$base/lower mnt=$base/mnt

for round in 1 2 3; do
	it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"
	"$CRYPTMODEL" durable "$mnt/f$round" "$base/log$round" & wp=$!
	# the kill comes after the first fsync'ed chunk (an ASan daemon on a
	# loaded machine can take longer than the random delay to get there)
	for ((i = 0; i < 600; i++)); do
		[[ -s $base/log$round ]] && break
		kill -0 "$wp" 2>/dev/null || break
		sleep 0.05
	done
	sleep "0.$((RANDOM % 9 + 1))"
	kill -KILL "$IT_PID"
	it_wait_pid "$wp" 30 || true
	wait "$IT_PID" 2>/dev/null
	umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	n=$(tail -n 1 "$base/log$round" 2>/dev/null)
	[[ ${n:-0} -gt 0 ]] || it_fail "round $round: no chunk was fsync'ed before the kill"

	it_mount "$lower" "$mnt" --filter "crypt:keyfile=$base/key"
	"$CRYPTMODEL" checkdurable "$mnt/f$round" "$n" || it_fail "round $round: fsync'ed data lost"
	it_unmount "$mnt"
	it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"

	# blocks failing authentication: only at or after the in-flight chunk
	first_unsafe=$((n * 100000 / 4096))
	"$FSFILTER" crypt verify "$lower" --keyfile "$base/key" >"$base/verify$round" 2>&1
	while read -r line; do
		# "N corrupt blocks: B..." or, for one, "1 corrupt block: B"
		list=${line#*corrupt block}
		list=${list#s}
		for b in ${list#:}; do
			[[ $b == ... ]] && continue
			((b >= first_unsafe)) || it_fail "round $round: block $b (before the in-flight write, first unsafe $first_unsafe) fails: $line"
		done
	done < <(grep -E 'corrupt blocks?:' "$base/verify$round")
	grep -q 'not encrypted\|header' "$base/verify$round" && it_fail "round $round: $(cat "$base/verify$round")"
	it_log "round $round: $n chunks fsync'ed, $(grep -c corrupt "$base/verify$round") file(s) with torn blocks"
done
it_log "ok"
