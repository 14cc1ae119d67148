#!/usr/bin/env bash
# Unprivileged security through the filters (docs/security.md): volumes
# mounted by root (allow_other + default_permissions) with redirect, crypt
# and monitor; an unprivileged user (uid 65534, no groups) must not read,
# write, truncate, rename or unlink beyond what the lower directory (or,
# for a virtual file, its backing file's mode without write bits) allows,
# including copy-on-write and hydrate materialisation triggered by them;
# must not connect to the monitor's or redirect's ports or use the control
# channel (status, load, unload, attach, detach, redirect add, fault); key
# material never shows in status --json, the daemon's stderr (-d, noop
# trace), its environment or command line.
. "$(dirname "$0")/lib.sh"
it_init
command -v setpriv >/dev/null || it_skip "setpriv missing"
U=65534
as_user() { setpriv --reuid "$U" --regid "$U" --clear-groups -- "$@"; }

it_tmpdir base
L=$base/lower M=$base/mnt B=$base/back
mkdir -p "$L/d" "$M" "$B/tree"
chmod 755 "$L" "$L/d" "$B" "$B/tree"
IT_LOG=$base/daemon.log

# backing files: one anyone may read, one only root
printf 'public backing\n' >"$B/public"
printf 'secret backing\n' >"$B/secret"
chmod 644 "$B/public"
chmod 600 "$B/secret"
printf 'tree secret\n' >"$B/tree/s"
chmod 600 "$B/tree/s"
# lower files the rules redirect
printf 'lower private\n' >"$L/d/priv"	# 0600 root: redirected to public
chmod 600 "$L/d/priv"
printf 'lower readable\n' >"$L/d/cow"	# 0644 root: copy-on-write
chmod 644 "$L/d/cow"
printf 'lower readable\n' >"$L/d/hyd"	# 0600 root: hydrate
chmod 600 "$L/d/hyd"
printf 'lower readable\n' >"$L/d/ro"	# 0644 root: readonly
chmod 644 "$L/d/ro"
mkdir "$L/pub" && chmod 1777 "$L/pub"	# world-writable, sticky
printf 'x\n' >"$L/pub/rootfile" && chmod 644 "$L/pub/rootfile"

head -c 32 /dev/urandom >"$base/key"
chmod 600 "$base/key"
mkdir "$base/clower"
it_crypt_init "$base/clower" "$base/key"

rules="rule=/d/priv=>$B/public;rule=/d/cow=>$B/public,policy=cow"
rules+=";rule=/d/hyd=>$B/public,policy=hydrate;rule=/d/ro=>$B/public"
rules+=";rule=/vpub=>$B/public;rule=/vsec=>$B/secret"
rules+=";rule=/vcow=>$B/public,policy=cow;rule=/vhyd=>$B/secret,policy=hydrate"
rules+=";rule=/t/=>$B/tree;rule=/pub/rootfile=>$B/public,policy=cow"
it_mount "$L" "$M" --filter monitor --filter "redirect:$rules"

deny() { # deny CMD...: must fail as the user, for lack of permission
	if as_user "$@" >/dev/null 2>"$base/err"; then it_fail "user could: $*"; fi
	grep -qi 'permission denied\|not permitted\|refused' "$base/err" ||
		it_fail "$* failed, but not for permission: $(cat "$base/err")"
}
allow() {
	as_user "$@" >/dev/null 2>"$base/err" || it_fail "user could not: $* ($(cat "$base/err"))"
}

# --- reads: the lower file's permission, or the backing's for virtual --------
deny cat "$M/d/priv"
allow cat "$M/d/ro"
allow cat "$M/vpub"
[[ $(as_user cat "$M/vpub") == "public backing" ]] || it_fail "vpub content"
deny cat "$M/vsec"
deny cat "$M/t/s"
# virtual files: the backing's mode without write bits, owner the backing's
[[ $(stat -c %a:%u "$M/vpub") == 444:0 ]] || it_fail "virtual file mode $(stat -c %a:%u "$M/vpub")"
[[ $(stat -c %a:%u "$M/vsec") == 400:0 ]] || it_fail "virtual secret mode $(stat -c %a:%u "$M/vsec")"

# --- writes: nothing materialised on the user's behalf ------------------------
deny sh -c "echo evil >>'$M/d/cow'"
deny sh -c "echo evil >'$M/d/cow'"
deny truncate -s 0 "$M/d/cow"
deny sh -c "echo evil >>'$M/d/ro'"
deny sh -c "echo evil >>'$M/vcow'"
deny truncate -s 0 "$M/vcow"
deny cat "$M/d/hyd"		# lower 0600: no read, no hydration
deny cat "$M/vhyd"		# backing 0600: no read, no hydration
deny mv "$M/d/cow" "$M/d/cow2"
deny rm -f "$M/d/ro"
deny ln "$M/d/ro" "$M/pub/link"
# sticky world-writable directory: not the user's file
deny rm -f "$M/pub/rootfile"
deny mv "$M/pub/rootfile" "$M/pub/mine"
deny sh -c "echo evil >>'$M/pub/rootfile'"
[[ $(cat "$L/d/cow") == "lower readable" ]] || it_fail "lower cow file changed"
[[ $(cat "$L/d/hyd") == "lower readable" ]] || it_fail "lower hydrate file changed"
[[ ! -e $L/vcow && ! -e $L/vhyd ]] || it_fail "a virtual file was materialised for the user"
getfattr -n trusted.fsfilter.redirect "$L/d/cow" >/dev/null 2>&1 && it_fail "cow file materialised"
getfattr -n trusted.fsfilter.redirect "$L/pub/rootfile" >/dev/null 2>&1 && it_fail "rootfile materialised"
ls -a "$L/d" "$L" "$L/pub" | grep -q fsfilter-redirect && it_fail "temp file left"
# what the user may do, they may: a file of their own in the sticky dir
allow sh -c "echo mine >'$M/pub/own'"
[[ $(stat -c %u "$L/pub/own") == "$U" ]] || it_fail "new file owner $(stat -c %u "$L/pub/own")"
allow rm "$M/pub/own"

# --- ports and the control channel ---------------------------------------------
deny "$FSFILTER" spy "$M" --json --count 1 --timeout 2
deny "$FSFILTER" redirect list "$M"
deny "$FSFILTER" redirect add "$M" "/x=>$B/secret"
deny "$FSFILTER" redirect remove "$M" /vpub
deny "$FSFILTER" status "$M"
deny "$FSFILTER" status --json "$M"
deny "$FSFILTER" detach "$M" redirect --force
deny "$FSFILTER" attach "$M" noop
deny "$FSFILTER" unload "$M" noop
deny "$FSFILTER" fault "$M" "pwrite:1:EIO"
as_user "$FSFILTER" unmount "$M" >/dev/null 2>&1 && it_fail "user could unmount"
it_is_mounted "$M" || it_fail "unmounted by the user"
[[ -n ${HELLO_SO:-} ]] && deny "$FSFILTER" load "$M" "$HELLO_SO"
"$FSFILTER" redirect list "$M" | grep -q '^/x=>' && it_fail "the user's rule was added"
"$FSFILTER" status "$M" | grep -q redirect || it_fail "redirect detached by the user"
# the ports check the peer themselves (SO_PEERCRED), not only through the
# socket file's mode: opened up to 0666, they still give the user nothing
rundir=/run/fsfilter/$(printf '%s' "${M#/}" | sed 's/-/\\x2d/g; s|/|-|g')
[[ -S $rundir/monitor && -S $rundir/redirect ]] || it_fail "no port sockets in $rundir"
for p in monitor redirect; do
	chmod 666 "$rundir/$p"
	as_user /usr/bin/python3 - "$rundir/$p" <<'PY' || it_fail "user got an answer on the $p port"
import socket, sys
for t in (socket.SOCK_SEQPACKET, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, t)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        if e.errno == 91:  # EPROTOTYPE: the other type
            continue
        sys.exit(0)
    s.settimeout(5)
    try:
        s.send(b"\x01" * 64)
        r = s.recv(4096)
        # a refusal frame carrying -EACCES (status f3 ff ff ff), then EOF
        if r and b"\xf3\xff\xff\xff" not in r:
            print("answer:", r[:80], file=sys.stderr)
            sys.exit(1)
        sys.exit(0 if not s.recv(4096) else 1)
    except OSError:
        sys.exit(0)
sys.exit(2)
PY
	chmod 600 "$rundir/$p"
done
deny "$FSFILTER" redirect list "$M"
it_unmount "$M"

# --- crypt: lower permissions; no key material anywhere ------------------------
printf 'enc secret\n' >"$base/plain"
C=$base/cmnt
mkdir "$C"
IT_LOG=$base/crypt.log
"$FSFILTER" mount "$base/clower" "$C" -d --filter noop:trace --filter "crypt:keyfile=$base/key" 2>>"$IT_LOG" &
IT_PID=$!
IT_PIDS+=("$IT_PID")
IT_MOUNTS+=("$C")
it_wait_mounted "$C" "$IT_PID"
it_note_mount "$C"
cp "$base/plain" "$C/secret" && chmod 600 "$C/secret"
cp "$base/plain" "$C/public" && chmod 644 "$C/public"
deny cat "$C/secret"
allow cat "$C/public"
deny sh -c "echo evil >>'$C/public'"
deny truncate -s 0 "$C/public"
deny rm -f "$C/public"
[[ $(cat "$C/public") == "enc secret" ]] || it_fail "crypt file changed"
"$FSFILTER" status --json "$C" >"$base/status.json" || it_fail "status"
cat "/proc/$IT_PID/environ" "/proc/$IT_PID/cmdline" >"$base/proc" 2>/dev/null
key_hex=$(od -An -tx1 "$base/key" | tr -d ' \n')
key_b64=$(base64 -w0 "$base/key")
for f in "$base/status.json" "$IT_LOG" "$base/proc"; do
	grep -aqi -- "$key_hex" "$f" && it_fail "key (hex) in $f"
	grep -aq -- "$key_b64" "$f" && it_fail "key (base64) in $f"
	grep -aqF -- "$(head -c 16 "$base/key")" "$f" 2>/dev/null && it_fail "key bytes in $f"
done
[[ -s $IT_LOG ]] || it_fail "no debug log"
# non-dumpable: root without CAP_SYS_PTRACE may not read /proc/PID/environ
# of a non-dumpable process. Where that cannot be observed (a probe that
# made itself non-dumpable is still readable: some sandboxes), say so;
# unit_crypt_protect checks PR_GET_DUMPABLE inside the process.
nocap() { setpriv --bounding-set -sys_ptrace --inh-caps -sys_ptrace -- "$@"; }
/usr/bin/python3 -c 'import ctypes, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
time.sleep(20)' &
probe=$!
IT_PIDS+=("$probe")
sleep 0.5
if nocap cat "/proc/$probe/environ" >/dev/null 2>&1; then
	it_log "dumpable state not observable here (a non-dumpable probe is readable); see unit_crypt_protect"
else
	nocap cat "/proc/$IT_PID/environ" >/dev/null 2>&1 && it_fail "the daemon is dumpable (environ readable without CAP_SYS_PTRACE)"
fi
kill "$probe" 2>/dev/null
it_unmount "$C"

# --- passphrase: not in the log, status, environment or command line -----------
pass="correct horse battery staple $RANDOM$RANDOM"
printf '%s\n' "$pass" >"$base/pass"
chmod 600 "$base/pass"
mkdir "$base/plower" "$base/pmnt"
"$FSFILTER" crypt init "$base/plower" --passfile "$base/pass" --scrypt-log2n 12 -q || it_fail "init passphrase"
IT_LOG=$base/pass.log
it_mount "$base/plower" "$base/pmnt" --filter "crypt:passfile=$base/pass"
echo data >"$base/pmnt/f"
"$FSFILTER" status --json "$base/pmnt" >"$base/pstatus.json" || it_fail "status"
cat "/proc/$IT_PID/environ" "/proc/$IT_PID/cmdline" >"$base/pproc" 2>/dev/null
for f in "$base/pstatus.json" "$IT_LOG" "$base/pproc"; do
	grep -aqF -- "$pass" "$f" && it_fail "passphrase in $f"
done
it_unmount "$base/pmnt"
it_log "PASS"
