# Shared helpers for the mounted integration tests. Source it from bash:
#   . "$(dirname "$0")/lib.sh"
# Environment (set by CTest): FSFILTER = path of the fsfilter binary.
#
# Every test gets its own temp dirs and mounts; it_cleanup (installed as an
# EXIT trap by it_init) unmounts what this test mounted and kills only the
# PIDs this test started (helpers started with it_bg first, before the
# unmounts), so tests can run in parallel (ctest -j).

set -uo pipefail

IT_NAME=$(basename "$0" .sh)
IT_TMPDIRS=()
IT_MOUNTS=()
IT_PIDS=()
IT_BGPIDS=()

it_log() { printf '%s: %s\n' "$IT_NAME" "$*" >&2; }
it_fail() { it_log "FAIL: $*"; exit 1; }
it_skip() { it_log "SKIP: $*"; exit 77; }

# it_private_mounts "$@" (first thing, before it_init): run this test again
# in a private mount namespace, so that `fsfilter status` there lists only
# this test's volumes and other tests never meet them. After it_init,
# it_forget_mounts unmounts (there only) the fsfilter volumes inherited.
it_private_mounts() {
	[[ -n ${IT_IN_NS:-} ]] && return 0
	command -v unshare >/dev/null || it_skip "no unshare"
	IT_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
}
it_forget_mounts() {
	local m left
	[[ -n ${IT_IN_NS:-} ]] || it_fail "it_forget_mounts outside it_private_mounts"
	# (/proc/self/mounts escapes blanks and newlines as \ooo: %b undoes it)
	while read -r m; do
		umount -l "$(printf '%b' "$m")" 2>/dev/null
	done < <(awk '$3 == "fuse.fsfilter" { print $2 }' /proc/self/mounts | sort -r)
	left=$(awk '$3 == "fuse.fsfilter"' /proc/self/mounts)
	[[ -z $left ]] || it_fail "fsfilter mounts left in the private namespace: $left"
}

# Skip (exit 77) unless the machine can run mounted tests.
it_require_fuse() {
	[[ -c /dev/fuse ]] || it_skip "/dev/fuse missing"
	((EUID == 0)) || it_skip "needs root (allow_other mounts, uid switching)"
	[[ -n ${FSFILTER:-} && -x $FSFILTER ]] || it_fail "FSFILTER not set or not executable: ${FSFILTER:-}"
}

it_init() {
	trap it_cleanup EXIT
	trap 'exit 130' INT
	trap 'it_log "terminated"; exit 143' TERM
	it_require_fuse
	IT_STATE=$(mktemp "${TMPDIR:-/tmp}/fsfilter-it-state.XXXXXX") || it_fail "mktemp"
	[[ -n ${IT_TIMEOUT:-} ]] && it_watchdog "$((IT_TIMEOUT > 20 ? IT_TIMEOUT - 10 : IT_TIMEOUT / 2))"
}

# A watchdog that fires before CTest's own timeout (which SIGKILLs the whole
# tree, so no trap could run and a dead mount would stay behind). It aborts
# the FUSE connections of this test's mounts (unblocking anything stuck on
# them), then sends TERM so the EXIT trap cleans up. It exits by itself
# once the test's shell is gone.
it_watchdog() {
	local limit=$1 main=$$
	(
		trap - EXIT TERM INT
		for ((t = 0; t < limit; t++)); do
			sleep 1
			kill -0 "$main" 2>/dev/null || exit 0
		done
		it_log "TIMEOUT: still running after ${limit}s; aborting its mounts"
		# the connection files live in fusectl, often not mounted
		grep -q ' /sys/fs/fuse/connections fusectl ' /proc/mounts ||
			mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
		while read -r m dev; do
			# only a connection still mounted there: a device number
			# of a mount that is gone may be another test's by now
			[[ -n $dev && $(awk -v m="$m" '$5 == m { print $3 }' \
				/proc/self/mountinfo | tail -n1) == "$dev" ]] ||
				continue
			[[ -w /sys/fs/fuse/connections/${dev#*:}/abort ]] &&
				echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort"
			umount -l "$m" 2>/dev/null
		done <"$IT_STATE"
		kill -TERM "$main" 2>/dev/null
	) &
	IT_WATCHDOG=$!
}

# it_tmpdir VAR: a fresh world-searchable temp dir, removed at exit.
it_tmpdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/fsfilter-$IT_NAME.XXXXXX") || it_fail "mktemp"
	chmod 755 "$d"
	IT_TMPDIRS+=("$d")
	printf -v "$1" '%s' "$d"
}

# PATH as mountinfo writes it (space, tab, newline, backslash as \ooo)
it_mountinfo_path() {
	local m=${1//\\/\\134}
	m=${m// /\\040}
	m=${m//$'\t'/\\011}
	printf '%s' "${m//$'\n'/\\012}"
}

# True if PATH is a mount point right now (exact match in mountinfo).
it_is_mounted() {
	M=$(it_mountinfo_path "$1") awk '$5 == ENVIRON["M"] { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# it_wait_mounted MNT PID [SECONDS]: wait until MNT is mounted; fail if PID dies.
it_wait_mounted() {
	local mnt=$1 pid=$2 t=${3:-10} i
	for ((i = 0; i < t * 20; i++)); do
		it_is_mounted "$mnt" && return 0
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			it_fail "fsfilter (pid $pid) exited before $mnt was mounted"
		fi
		sleep 0.05
	done
	it_fail "$mnt not mounted after ${t}s"
}

# it_mount LOWER MNT [fsfilter args...]: start `fsfilter mount -f` in the
# background (our own PID to clean up), wait for the mount. Sets IT_PID.
# The daemon's stderr goes to $IT_LOG (default: MNT's parent/IT_NAME.log).
it_mount() {
	local lower=$1 mnt=$2
	shift 2
	IT_LOG=${IT_LOG:-$(dirname "$mnt")/daemon.log}
	"$FSFILTER" mount "$lower" "$mnt" -f "$@" 2>>"$IT_LOG" &
	IT_PID=$!
	IT_PIDS+=("$IT_PID")
	IT_MOUNTS+=("$mnt")
	it_wait_mounted "$mnt" "$IT_PID"
	it_note_mount "$mnt"
}

# it_two_volumes BASE [fsfilter args of A...]: volume A (BASE/la on BASE/ma,
# with the args, daemon log BASE/a.log) and volume B (BASE/lb on BASE/mb,
# no filter, BASE/b.log), for the tests of `fsfilter status` over every
# volume. Their daemons' PIDs in IT_PID_A and IT_PID_B.
it_two_volumes() {
	local base=$1
	shift
	mkdir "$base/la" "$base/ma" "$base/lb" "$base/mb" || it_fail "mkdir in $base"
	IT_LOG=$base/a.log
	it_mount "$base/la" "$base/ma" "$@"
	IT_PID_A=$IT_PID
	IT_LOG=$base/b.log
	it_mount "$base/lb" "$base/mb"
	IT_PID_B=$IT_PID
}

# it_require_passthrough: after it_mount (IT_LOG), wait for the daemon's
# verdict on the fast path (logged at INIT, before any request is served);
# skip if the kernel does not offer it, fail if nothing was logged.
it_require_passthrough() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q "passthrough negotiated\|does not offer passthrough" "$IT_LOG" && break
		sleep 0.1
	done
	grep -q "does not offer passthrough" "$IT_LOG" && it_skip "the kernel does not offer passthrough"
	grep -q "passthrough negotiated" "$IT_LOG" || it_fail "no passthrough message in the daemon log"
}

# Record a mounted MNT and its FUSE connection (device) for the watchdog.
it_note_mount() {
	echo "$1 $(M=$(it_mountinfo_path "$1") awk '$5 == ENVIRON["M"] { print $3 }' /proc/self/mountinfo | tail -n1)" >>"$IT_STATE"
}

# it_unmount MNT: clean unmount through the CLI; fail if it stays mounted.
it_unmount() {
	local mnt=$1 i
	"$FSFILTER" unmount "$mnt" || it_fail "fsfilter unmount $mnt failed"
	for ((i = 0; i < 100; i++)); do
		it_is_mounted "$mnt" || return 0
		sleep 0.05
	done
	it_fail "$mnt still mounted after fsfilter unmount"
}

# it_wait_pid PID [SECONDS]: wait for a child we started to exit; returns its
# status, or fails if it is still alive after the timeout.
it_wait_pid() {
	local pid=$1 t=${2:-10} i
	for ((i = 0; i < t * 20; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			return $?
		fi
		sleep 0.05
	done
	it_fail "pid $pid still running after ${t}s"
}

# it_own_pid PID: PID is alive and still a child of this shell. A PID we
# started and already reaped (it_wait_pid, wait) can belong to another
# process by now (PIDs wrap around within minutes on a busy machine): never
# kill it on the strength of kill -0 alone.
it_own_pid() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }	# after "pid (comm) ": state ppid ...
	read -r _ stat _ <<<"$stat"
	[[ $stat == "$$" ]]
}

# it_bg CMD...: run CMD in the background as a helper of this test (a
# verdict client, a spy, a workload); its PID in IT_BG. Redirect the call
# to redirect CMD (it_bg cmd >out: the file is truncated before CMD starts).
# Helpers are killed (KILL) by it_bg_stop, and at exit before the mounts
# are unmounted: a client or a spy holds its volume busy.
it_bg() {
	"$@" &
	IT_BG=$!
	IT_BGPIDS+=("$IT_BG")
}

# it_bg_forget PID: PID is reaped (it_wait_pid), not a helper to kill any more.
it_bg_forget() {
	local p keep=()
	for p in "${IT_BGPIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	IT_BGPIDS=("${keep[@]}")
}

# it_bg_stop: kill the helpers that are still ours (it_own_pid) and reap them.
it_bg_stop() {
	local p
	for p in "${IT_BGPIDS[@]}"; do
		it_own_pid "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	IT_BGPIDS=()
}

# it_wait_line FILE PATTERN [SECONDS] [PID]: until FILE has a line matching
# PATTERN (grep); returns 1 after SECONDS (default 10), or as soon as PID
# (the writer, if given) has exited without writing it, after showing the
# end of FILE.
it_wait_line() {
	local f=$1 pat=$2 t=${3:-10} pid=${4:-} i
	for ((i = 0; i < t * 20; i++)); do
		grep -q -- "$pat" "$f" 2>/dev/null && return 0
		[[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && break
		sleep 0.05
	done
	grep -q -- "$pat" "$f" 2>/dev/null && return 0
	it_log "no '$pat' in $f:"
	tail -n 20 "$f" >&2
	return 1
}

# it_monitor_client OUT MNT [ARGS...]: a monitor verdict client
# (`$MONTEST verdict MNT ARGS...`, tests/integration/montest.c) as a helper
# (it_bg, PID in IT_BG); its stdout (the "req"/"answer" lines) to OUT, its
# stderr to OUT.err. Returns once it is connected ("ready"); generous,
# an ASan client on a loaded machine can take seconds.
it_monitor_client() {
	local out=$1 mnt=$2
	shift 2
	[[ -x ${MONTEST:-} ]] || it_fail "MONTEST not set"
	it_bg "$MONTEST" verdict "$mnt" "$@" >"$out" 2>"$out.err"
	it_wait_line "$out" ready 60 "$IT_BG" ||
		it_fail "verdict client on $mnt did not start: $(cat "$out.err")"
}

# it_spy OUT MNT [ARGS...]: `fsfilter spy MNT ARGS...` as a helper (it_bg,
# PID in IT_BG), stdout to OUT, stderr to OUT.err; returns once it listens.
it_spy() {
	local out=$1 mnt=$2
	shift 2
	it_bg "$FSFILTER" spy "$mnt" "$@" >"$out" 2>"$out.err"
	it_wait_line "$out.err" listening 30 "$IT_BG" || it_fail "spy on $mnt did not start"
}

# it_spy_stop PID OUT: Ctrl-C to the spy it_spy started with OUT; it must
# exit and print its summary (the dropped count) to OUT.err.
it_spy_stop() {
	kill -INT "$1" 2>/dev/null
	it_wait_pid "$1" 10 || true
	it_bg_forget "$1"
	grep -q "dropped" "$2.err" || it_fail "spy printed no summary on exit"
}

# it_figure MNT FILTER KEY: the figure KEY of FILTER's instance on MNT in
# `fsfilter status --json` ("missing" if it has none)
it_figure() {
	"$FSFILTER" status "$1" --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
for i in st["instances"]:
    if i["filter"] == sys.argv[1]:
        print(i.get("figures", {}).get(sys.argv[2], "missing"))' "$2" "$3"
}

# it_crypt_init LOWER KEYFILE: `fsfilter crypt init` of LOWER with the key
# in KEYFILE, a fresh random 32-byte key if KEYFILE does not exist yet.
it_crypt_init() {
	[[ -e $2 ]] || head -c 32 /dev/urandom >"$2" || it_fail "key $2"
	"$FSFILTER" crypt init "$1" --keyfile "$2" -q || it_fail "crypt init $1"
}

# it_crypt_volume DIR: DIR/lower crypt-initialised with the key DIR/key
# (it_crypt_init), an empty DIR/mnt, the daemon log in DIR/daemon.log.
# Mount it with: it_mount DIR/lower DIR/mnt --filter crypt:keyfile=DIR/key
it_crypt_volume() {
	mkdir -p "$1/lower" "$1/mnt" || it_fail "mkdir $1/lower $1/mnt"
	IT_LOG=$1/daemon.log
	it_crypt_init "$1/lower" "$1/key"
}

it_cleanup() {
	local rc=$? m p d
	trap - EXIT
	if [[ -n ${IT_WATCHDOG:-} ]]; then
		kill "$IT_WATCHDOG" 2>/dev/null
		wait "$IT_WATCHDOG" 2>/dev/null
	fi
	it_bg_stop
	for m in "${IT_MOUNTS[@]}"; do
		if it_is_mounted "$m"; then
			"$FSFILTER" unmount "$m" >/dev/null 2>&1 ||
				"$FSFILTER" unmount --lazy "$m" >/dev/null 2>&1 ||
				fusermount3 -uz "$m" >/dev/null 2>&1 ||
				umount -l "$m" >/dev/null 2>&1
		fi
	done
	for p in "${IT_PIDS[@]}"; do
		if it_own_pid "$p"; then
			# give a cleanly unmounted daemon a moment to exit by itself
			sleep 0.2
			it_own_pid "$p" && kill -KILL "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
	for m in "${IT_MOUNTS[@]}"; do
		if it_is_mounted "$m"; then
			it_log "LEAK: $m still mounted at exit"
			umount -l "$m" >/dev/null 2>&1
			((rc == 0 || rc == 77)) && rc=1
		fi
	done
	if ((rc != 0)) && [[ -n ${IT_LOG:-} && -s $IT_LOG ]]; then
		it_log "daemon log ($IT_LOG), last lines:"
		tail -n 40 "$IT_LOG" >&2
	fi
	[[ -n ${IT_STATE:-} ]] && rm -f "$IT_STATE"
	for d in "${IT_TMPDIRS[@]}"; do
		[[ -n $d && -d $d ]] && rm -rf --one-file-system "$d"
	done
	exit "$rc"
}
