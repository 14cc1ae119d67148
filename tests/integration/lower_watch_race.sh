#!/usr/bin/env bash
# A change in the lower directory racing a lookup of the same name through
# the volume (src/lower/watch.c, "Names racing a lookup"): a LOOKUP or
# READDIRPLUS that read the lower just before the change, installed by the
# kernel after the watch's inval_entry of that change, would leave the old
# name cached for an hour (the watched timeout). Readers stat, open and
# list many names through the volume in parallel while a writer creates,
# renames over and unlinks those names directly in the lower; after the
# writer's last change, every name must show the lower's final state
# (existence and content) within 5 s: the replies that raced an event carry
# the 1 s timeout, and the watch sends each name invalidation twice.
. "$(dirname "$0")/lib.sh"
it_private_mounts "$@"
it_init
it_forget_mounts

it_tmpdir base
command -v python3 >/dev/null || it_skip "no python3"

L=$base/lower M=$base/mnt
mkdir "$L" "$M" "$L/d"
it_mount "$L" "$M"
w=$("$FSFILTER" status "$M" --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["volume"].get("lower_watch"))') ||
	it_fail "status --json of $M"
[[ $w == True ]] ||
	it_skip "no watch of the lower directory here (file system $(stat -f -c %T "$L"), see the daemon log)"

# SECONDS of hammering, NAMES names, READERS reader threads
secs=${RACE_SECONDS:-6} names=${RACE_NAMES:-48} readers=${RACE_READERS:-4}

cat >"$base/race.py" <<'PY'
import os, sys, threading, time

role, top, secs, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
d = os.path.join(top, "d")
N = ["n%03d" % i for i in range(names)]
end = time.monotonic() + secs

def reader(k):
    # stat (LOOKUP), open (the dentry's node), listdir + stat
    # (READDIRPLUS) of the names, in a different order per thread
    order = N[k % len(N):] + N[:k % len(N)]
    while time.monotonic() < end:
        for n in order:
            p = os.path.join(d, n)
            try:
                os.stat(p)
                with open(p, "rb") as f:
                    f.read(16)
            except OSError:
                pass
        try:
            for n in os.listdir(d):
                try:
                    os.lstat(os.path.join(d, n))
                except OSError:
                    pass
        except OSError:
            pass

def writer():
    # every kind of name change, each name in turn, as fast as it goes;
    # a file's content is its generation, so an old node shows
    g = 0
    while time.monotonic() < end:
        for n in N:
            g += 1
            p, t = os.path.join(d, n), os.path.join(d, "." + n)
            op = g % 3
            try:
                if op == 0:
                    os.unlink(p)
                elif op == 1:
                    with open(t, "w") as f:
                        f.write(str(g))
                    os.rename(t, p)
                else:
                    with open(p + ".new", "w") as f:
                        f.write(str(g))
                    os.rename(p + ".new", p)
            except OSError:
                pass
    # a final state: every third name absent, the others of a last
    # generation, each made by a rename over the old name or a create
    for i, n in enumerate(N):
        p = os.path.join(d, n)
        if i % 3 == 0:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        else:
            with open(p + ".new", "w") as f:
                f.write("final%d" % i)
            os.rename(p + ".new", p)

def check():
    # the names whose state through the volume (top) differs from the
    # lower's (sys.argv[5])
    low = os.path.join(sys.argv[5], "d")
    bad = []
    for n in N:
        try:
            want = open(os.path.join(low, n)).read()
        except FileNotFoundError:
            want = None
        try:
            os.stat(os.path.join(d, n))
            got = open(os.path.join(d, n)).read()
        except FileNotFoundError:
            got = None
        if got != want:
            bad.append("%s: %r (lower %r)" % (n, got, want))
    listed = set(x for x in os.listdir(d) if not x.startswith("."))
    lowl = set(x for x in os.listdir(low) if not x.startswith("."))
    if listed != lowl:
        bad.append("listing differs: %s" % sorted(listed ^ lowl))
    print("\n".join(bad))
    sys.exit(1 if bad else 0)

if role == "read":
    ts = [threading.Thread(target=reader, args=(k * 7,)) for k in range(int(sys.argv[5]))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
elif role == "write":
    writer()
else:
    check()
PY

it_bg python3 "$base/race.py" read "$M" "$secs" "$names" "$readers"
rpid=$IT_BG
python3 "$base/race.py" write "$L" "$secs" "$names" || it_fail "writer"
it_wait_pid "$rpid" 30 || it_fail "readers did not finish"
it_bg_forget "$rpid"

# the lower's final state must show within 5 s (the hour-long timeout
# cannot expire meanwhile)
for ((i = 0; i < 50; i++)); do
	out=$(python3 "$base/race.py" check "$M" 0 "$names" "$L") && break
	sleep 0.1
done
[[ -z $out ]] || it_fail "stale through the volume 5 s after the last change: $(head -n 5 <<<"$out")"
it_log "PASS"
