#!/usr/bin/env bash
# Hostile names through every filter: names with newlines, tabs, control
# bytes, invalid UTF-8, leading dashes, 255-byte components (256: the
# ENAMETOOLONG of the native directory), paths of PATH_MAX-1 bytes (PATH_MAX:
# ENAMETOOLONG) and trees deeper than PATH_MAX, created, listed, read,
# written, truncated, renamed, linked, xattr'd and removed (hostile.py ops)
# on a native directory and on volumes with: no filter; noop:trace;
# monitor with two spies (JSON: every line parses and the paths round-trip
# the bytes; text: no line forged by a name); redirect (prefix, exact, glob,
# run-time and copy-on-write rules naming such files, given escaped on the
# command line and through `fsfilter redirect add/list/remove`); crypt
# (names stay plain in the lower directory, contents round-trip); and all
# three stacked. Every volume must give the native directory's errno and
# bytes for every operation, and its tree must hold the native tree's names
# and contents.
. "$(dirname "$0")/lib.sh"
it_init
PY=$(dirname "$0")/hostile.py
command -v python3 >/dev/null || it_skip "python3 missing"

it_tmpdir base
IT_LOG=$base/daemon.log

python3 "$PY" ops "$base/native" "$base/native.out" || it_fail "ops on the native directory"
python3 "$PY" tree "$base/native" "$base/native.tree" || it_fail "native tree"
head -c 32 /dev/urandom >"$base/key"

# names of the lower tree (crypt encrypts contents, never names)
names_of() { awk '{ print $1 }' "$1"; }

# run_case TAG CRYPT REDIRECT MONITOR [fsfilter mount args...]
run_case() {
	local tag=$1 crypt=$2 redir=$3 mon=$4
	shift 4
	local d=$base/$tag L M
	L=$d/lower M=$d/mnt
	mkdir -p "$L" "$M" "$d/back"
	if ((crypt)); then
		it_crypt_init "$L" "$base/key"
	fi
	local args=("$@")
	if ((redir)); then
		args+=(--filter "redirect:$(python3 "$PY" redirect-setup "$d/back")")
	fi
	IT_LOG=$d/daemon.log
	it_mount "$L" "$M" "${args[@]}"
	local spies=()
	if ((mon)); then
		it_spy "$d/spy.json" "$M" --json --ops create
		spies+=("$IT_BG")
		it_spy "$d/spy.txt" "$M" --ops all --pre --post
		spies+=("$IT_BG")
	fi
	python3 "$PY" ops "$M/d" "$d/vol.out" || it_fail "$tag: ops on the volume crashed"
	diff -u "$base/native.out" "$d/vol.out" >"$d/diff" ||
		{ head -n 40 "$d/diff" >&2; it_fail "$tag: the volume differs from the native directory"; }
	python3 "$PY" tree "$M/d" "$d/vol.tree" || it_fail "$tag: tree through the volume"
	cmp -s "$base/native.tree" "$d/vol.tree" || it_fail "$tag: tree through the volume differs"
	python3 "$PY" tree "$L/d" "$d/lower.tree" || it_fail "$tag: lower tree"
	if ((crypt)); then
		cmp -s <(names_of "$base/native.tree") <(names_of "$d/lower.tree") ||
			it_fail "$tag: names in the lower directory differ"
		cmp -s "$base/native.tree" "$d/lower.tree" && it_fail "$tag: contents not encrypted"
	else
		cmp -s "$base/native.tree" "$d/lower.tree" || it_fail "$tag: lower tree differs"
	fi
	if ((redir)); then
		python3 "$PY" redirect "$FSFILTER" "$M" "$L" "$d/back" || it_fail "$tag: redirect"
	fi
	if ((mon)); then
		sleep 0.5
		it_spy_stop "${spies[0]}" "$d/spy.json"
		it_spy_stop "${spies[1]}" "$d/spy.txt"
		grep -q " 0 dropped\|dropped: 0\|0 events dropped" "$d/spy.json.err" ||
			it_log "$tag: JSON spy: $(tail -n1 "$d/spy.json.err")"
		python3 "$PY" spy "$d/spy.json" "$d/spy.txt" /d || it_fail "$tag: monitor events"
	fi
	grep -aq 'ERROR\|AddressSanitizer\|runtime error' "$IT_LOG" &&
		{ grep -a 'ERROR\|AddressSanitizer\|runtime error' "$IT_LOG" | head >&2; it_fail "$tag: errors in the daemon log"; }
	it_unmount "$M"
	# one log line per message: a name never starts a line of its own
	if grep -avq '^\[noop@\|^fsfilter: \|^redirect: \|^crypt: \|^monitor: ' "$IT_LOG"; then
		grep -avn '^\[noop@\|^fsfilter: \|^redirect: \|^crypt: \|^monitor: ' "$IT_LOG" | head -n 5 | cat -A | cut -c1-200 >&2
		it_fail "$tag: a log line forged by a name"
	fi
	it_log "$tag: ok"
}

# a mount point with a newline: status shows it on one line (escaped),
# status --json carries it exactly, the ports and unmount find the volume
hostile_mountpoint() {
	local d=$base/mp L M out
	L=$d/lower
	M=$(printf '%s/mnt\nVolume forged \xc3\xa9' "$d")
	mkdir -p "$L" "$M"
	IT_LOG=$d/daemon.log
	it_mount "$L" "$M" --filter monitor --filter "redirect:rule=/a=>$base/native.out"
	out=$("$FSFILTER" status "$M") || it_fail "status of a hostile mount point"
	grep -aq '^Volume forged' <<<"$out" && it_fail "status: a mount point forged a line"
	grep -aqF 'mnt\x0aVolume forged' <<<"$out" || it_fail "status does not show the escaped mount point"
	"$FSFILTER" status --json "$M" | python3 -c 'import json, sys
j = json.load(sys.stdin)
assert j["volume"]["mountpoint"] == sys.argv[1], j["volume"]' "$M" ||
		it_fail "status --json of a hostile mount point"
	[[ $("$FSFILTER" redirect list "$M") == "/a=>$base/native.out,"* ]] || it_fail "redirect list on a hostile mount point"
	cmp -s "$M/a" "$base/native.out" || it_fail "read through a hostile mount point"
	it_unmount "$M"
	it_log "mount point: ok"
}
hostile_mountpoint
run_case none 0 0 0
run_case noop_trace 0 0 0 --filter noop:trace
run_case monitor 0 0 1 --filter monitor
run_case redirect 0 1 0
run_case crypt 1 0 0 --filter "crypt:keyfile=$base/key"
run_case stacked 1 1 1 --filter monitor --filter "crypt:keyfile=$base/key"
it_log "PASS"
