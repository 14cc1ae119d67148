#!/usr/bin/env bash
# fsfilter check CONFIG (fsfilter.conf(5)): good configs pass with
# "FILE: ok (N filters)" and exit 0; each kind of bad config exits 2 with
# exactly the message that names the file, the line and what is expected.
# No mount: runs anywhere. Env: FSFILTER.
set -u
fail() { echo "check: FAIL: $*" >&2; exit 1; }
d=$(mktemp -d /tmp/fsfilter-check-test.XXXXXX) || fail mktemp
trap 'rm -rf "$d"' EXIT
mkdir "$d/lower" "$d/mnt" "$d/vault"
V="[volume]
lower = $d/lower
mountpoint = $d/mnt"
n=0

# good CASE-NAME N-FILTERS CONTENT
good() {
	local f=$d/$1.conf out rc
	printf '%s\n' "$3" >"$f"
	out=$("$FSFILTER" check "$f" 2>"$d/err")
	rc=$?
	((rc == 0)) || fail "$1: exit $rc: $(cat "$d/err")"
	[[ $out == "$f: ok ($2)" ]] || fail "$1: said '$out', expected '$f: ok ($2)'"
	n=$((n + 1))
}
# bad CASE-NAME EXPECTED-MESSAGE (after "fsfilter: FILE:", or "=MESSAGE"
# for one that names its lines itself) CONTENT
all=
bad() {
	local f=$d/$1.conf out rc
	printf '%s\n' "$3" >"$f"
	all=$("$FSFILTER" check "$f" 2>&1 >/dev/null | grep -v ': notice: ')
	out=${all%%$'\n'*}	# the first line is the error; more may follow
	"$FSFILTER" check "$f" >/dev/null 2>&1
	rc=$?
	((rc == 2)) || fail "$1: exit $rc, expected 2 ($out)"
	local want="fsfilter: $f:$2"
	[[ $2 == =* ]] && want="fsfilter: ${2#=}"	# the whole message
	[[ $out == "$want" ]] ||
		fail "$1: message
  got:      $out
  expected: $want"
	n=$((n + 1))
}

good minimal "0 filters" "$V"
good all-keys "2 filters" "$V
options = ro,noatime
threads = 4
writeback = false
passthrough = yes
timeout = 0.5
new_timeout = 5
nonempty = off
; a comment
# another
[filter noop]
altitude = 370000
args = trace
[filter monitor]
args = verdict_timeout_ms=500,default=deny"
head -c 32 /dev/urandom >"$d/key"
"$FSFILTER" crypt init "$d/vault" --keyfile "$d/key" --quiet >/dev/null 2>&1 ||
	fail "crypt init for the crypt case"
good three-filters "3 filters" "[volume]
lower = $d/vault
mountpoint = $d/mnt
[filter crypt]
; crypt 140000 sits below redirect 145000 by default
args = keyfile=$d/key
[filter redirect]
args = rule=/a.txt=>$d/key
[filter monitor]"

bad unknown-key "4: unknown key 'colour' in [volume] (expected: lower, mountpoint, options, threads, writeback, timeout, new_timeout, nonempty, passthrough, xattr)" "$V
colour = blue"
bad key-twice "4: key 'lower' given twice in [volume] (an indented line continues the key above it)" "$V
lower = /srv"
bad relative-lower "2: 'lower' must be an absolute path, not 'data'" "[volume]
lower = data"
bad threads "4: 'threads' must be a whole number from 1 to 1024, not 'lots'" "$V
threads = lots"
bad timeout "4: 'timeout' must be a number of seconds >= 0 (e.g. 1.0) or auto, not 'soon'" "$V
timeout = soon"
bad new-timeout "4: 'new_timeout' must be a number of seconds >= 0 (e.g. 1.0) or auto, not '-1'" "$V
new_timeout = -1"
bad bool "4: 'writeback' must be true or false, not 'maybe'" "$V
writeback = maybe"
bad outside-section "1: 'lower' outside a section (put it under [volume] or [filter NAME])" "lower = /srv"
bad unknown-section "4: unknown section [mount] (expected: [volume], [filter NAME])" "$V
[mount]"
bad volume-twice "4: section [volume] given twice (first at line 1)" "$V
[volume]"
bad filter-name "4: bad filter name 'No!' in [filter No!] (expected 1 to 31 of a-z, 0-9, '_', '-')" "$V
[filter No!]"
bad filter-twice "5: section [filter noop] given twice (first at line 4)" "$V
[filter noop]
[filter noop]"
bad filter-key "5: unknown key 'level' in [filter noop] (expected: altitude, args)" "$V
[filter noop]
level = 3"
bad altitude "5: 'altitude' must be a whole number from 0 (the filter's default) to 4294967295, not 'high'" "$V
[filter noop]
altitude = high"
bad no-equals "4: expected 'key = value', '[section]' or a comment, not 'threads 4'" "$V
threads 4"
bad no-bracket "4: missing ']' after the section name" "$V
[filter noop"
bad long-line "4: line too long (at most 198 characters)" "$V
options = $(printf 'x%.0s' {1..200})"
bad unknown-filter "4: unknown filter 'nosuch'" "$V
[filter nosuch]"
[[ ${all#*$'\n'} == "fsfilter: available filters: noop "*", or NAME.so in "*/fsfilter/filters ]] ||
	fail "unknown-filter: no list of the available filters: $all"
bad same-altitude "=altitude 200000 given to both 'noop' ($d/same-altitude.conf:4) and 'monitor' ($d/same-altitude.conf:6): two filters never share an altitude" "$V
[filter noop]
altitude = 200000
[filter monitor]
altitude = 200000"
bad missing-lower "=LOWER $d/nope: No such file or directory (give an existing directory)" "[volume]
lower = $d/nope
mountpoint = $d/mnt"
rm -f "$d/missing.conf"
out=$("$FSFILTER" check "$d/missing.conf" 2>&1)
[[ $? == 2 && $out == "fsfilter: $d/missing.conf: cannot open the config file: No such file or directory" ]] ||
	fail "missing config file: $out"
# a filter refusing its arguments: its own message, then the line of the config
bad filter-args "=error: monitor: unknown argument 'bogus' (expected verdict_timeout_ms, max_verdict_ms, default, deny_errno, paging_bound_ms, max_clients, queue_kb, port_mode)" "$V
[filter monitor]
args = bogus=1"
[[ $all == *"fsfilter: $d/filter-args.conf:4: filter 'monitor' refused its arguments 'bogus=1'"* ]] ||
	fail "filter-args: the config line is not named: $all"
# crypt with the wrong key is refused by check (so fsfilter@.service's
# ExecStartPre stops before mounting)
head -c 32 /dev/urandom >"$d/otherkey"
bad crypt-wrong-key "=error: crypt: wrong key file for this volume (the key check in .fsfilter-crypt.conf fails); nothing mounted" "[volume]
lower = $d/vault
mountpoint = $d/mnt
[filter crypt]
args = keyfile=$d/otherkey"
[[ $all == *"fsfilter: $d/crypt-wrong-key.conf:4: cannot attach 'crypt'"* ]] ||
	fail "crypt-wrong-key: the config line is not named: $all"
# check changed nothing in the lower directories
[[ -z $(ls -A "$d/lower") ]] || fail "check wrote into a lower directory: $(ls -A "$d/lower")"
[[ $(ls -A "$d/vault") == .fsfilter-crypt.conf ]] || fail "check wrote into the vault: $(ls -A "$d/vault")"
echo "check: ok ($n configs)"
