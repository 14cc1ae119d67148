#!/usr/bin/env bash
# Crash consistency (docs/reliability.md): N rounds (CRASHLOOP_ROUNDS or
# --rounds N; default 8, about a minute under ASan on a loaded machine),
# each on one of four volumes in turn, each with its own lower directory
# kept across rounds: no filter; crypt; redirect (copy-on-write and
# hydrate prefix rules); monitor + redirect + crypt stacked. A round:
# mount, start the mixed workload of crashwork.py (fsync'ed appends,
# renames of fsync'ed files, with redirect appends that materialise
# copy-on-write files and reads that start hydrations), wait for its
# first acknowledgements, kill -9 the daemon at a random moment after
# them, `fsfilter unmount` the dead mount (it must go), remount and check
# (crashwork.py check): every acknowledged record, rename and tail of all
# rounds so far is there, every file reads (crypt: except the last blocks
# of a file written at the kill), no materialisation temp file shows,
# copy-on-write files are backing + whole tails, hydrate files the
# backing. Then a clean unmount (daemon status 0) and, on crypt lowers,
# `fsfilter crypt verify`: corrupt blocks only at the end of a file of
# the killed round. Nothing stays mounted. CRASHLOOP_MODES="stacked" (a
# subset of "plain crypt redirect stacked") runs the rounds on those only.
. "$(dirname "$0")/lib.sh"
it_init
WORK=$(dirname "$0")/crashwork.py
ROUNDS=${CRASHLOOP_ROUNDS:-8}
[[ ${1:-} == --rounds ]] && ROUNDS=$2
[[ $ROUNDS =~ ^[0-9]+$ ]] || it_fail "rounds: $ROUNDS"

it_tmpdir base
back=$base/back key=$base/key
mkdir -p "$back/cow" "$back/hyd"
for k in 0 1 2 3 4 5; do
	head -c $((100000 + k * 37000)) /dev/urandom >"$back/cow/f$k"
	head -c $((300000 + k * 51000)) /dev/urandom >"$back/hyd/f$k"
done
# CRASHLOOP_MODES: a subset, e.g. "stacked" (rounds go round them)
read -r -a modes <<<"${CRASHLOOP_MODES:-plain crypt redirect stacked}"
for m in "${modes[@]}"; do
	mkdir -p "$base/$m.lower" "$base/$m.mnt"
	: >"$base/$m.acks"
done
for m in "${modes[@]}"; do
	[[ $m == crypt || $m == stacked ]] || continue
	it_crypt_init "$base/$m.lower" "$key"
done
redir="redirect:rule=/cow/=>$back/cow,policy=copy-on-write"
redir+=";rule=/hyd/=>$back/hyd,policy=hydrate"
declare -A args=(
	[plain]=""
	[crypt]="--filter crypt:keyfile=$key"
	[redirect]="--filter $redir"
	[stacked]="--filter monitor --filter $redir --filter crypt:keyfile=$key"
)

mount_mode() {	# MODE
	IT_LOG=$base/$1.log
	# shellcheck disable=SC2086 # the filter arguments are words
	it_mount "$base/$1.lower" "$base/$1.mnt" ${args[$1]}
}

acks() { grep -c '^[ANC] ' "$1" || true; }

for ((r = 1; r <= ROUNDS; r++)); do
	m=${modes[(r - 1) % ${#modes[@]}]}
	mnt=$base/$m.mnt lower=$base/$m.lower
	red=0 cr=0
	[[ $m == redirect || $m == stacked ]] && red=1
	[[ $m == crypt || $m == stacked ]] && cr=1
	mount_mode "$m"
	daemon=$IT_PID
	a0=$(acks "$base/$m.acks")
	python3 "$WORK" work "$mnt" "$base/$m.acks" "$r" "$red" 2>"$base/work.err" &
	wp=$!
	IT_PIDS+=("$wp")
	# the kill comes after some acknowledgements, at a random moment
	for ((i = 0; i < 600; i++)); do
		(($(acks "$base/$m.acks") > a0 + 20)) && break
		kill -0 "$wp" 2>/dev/null || it_fail "round $r ($m): workload died: $(cat "$base/work.err")"
		sleep 0.05
	done
	sleep "0.$((RANDOM % 8 + 1))"
	kill -KILL "$daemon"
	wait "$daemon" 2>/dev/null
	it_wait_pid "$wp" 30 || it_fail "round $r ($m): workload status $?: $(cat "$base/work.err")"
	n=$(($(acks "$base/$m.acks") - a0))
	((n > 0)) || it_fail "round $r ($m): nothing acknowledged before the kill"
	it_is_mounted "$mnt" || it_fail "round $r ($m): no dead mount after kill -9"
	"$FSFILTER" unmount "$mnt" || it_fail "round $r ($m): fsfilter unmount of the dead mount"
	it_is_mounted "$mnt" && it_fail "round $r ($m): the dead mount stayed"

	mount_mode "$m"
	res=$(python3 "$WORK" check "$mnt" "$base/$m.acks" "$back" "$red" "$cr" \
		"$base/sizes" 2>&1) || {
		ls -la "$lower/hyd" "$mnt/hyd" "$lower/cow" "$mnt/cow" >&2 2>/dev/null
		it_fail "round $r ($m): $res"
	}
	it_unmount "$mnt"
	it_wait_pid "$IT_PID" 20 || it_fail "round $r ($m): daemon exit status $?"
	torn=""
	if ((cr)); then
		"$FSFILTER" crypt verify "$lower" --keyfile "$key" >"$base/verify" 2>&1
		# corrupt blocks: only the last two of a file of this round
		while read -r line; do
			f=${line%%: *}
			f=${f#"$lower"/}
			[[ $f =~ \.r$r(\.|$) ]] || it_fail "round $r ($m): corrupt blocks in a file of an earlier round: $line"
			size=$(awk -v f="$f" '$1 == f { print $2 }' "$base/sizes")
			last=$(((${size:-0} - 1) / 4096))
			for b in ${line#*blocks:}; do
				[[ $b == ... ]] && continue
				((b >= last - 1)) || it_fail "round $r ($m): block $b of $f (last $last) fails: $line"
			done
			torn+=" $f"
		done < <(grep -E 'corrupt blocks?:' "$base/verify")
		grep -q 'not encrypted\|header' "$base/verify" && it_fail "round $r ($m): $(cat "$base/verify")"
	fi
	it_log "round $r ($m): $n acknowledged in the round; $res${torn:+; torn:$torn}"
done
for m in "${modes[@]}"; do
	it_is_mounted "$base/$m.mnt" && it_fail "$m still mounted"
done
it_log "ok: $ROUNDS rounds"
