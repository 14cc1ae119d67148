#!/usr/bin/env python3
# The soak's workload (soak.sh): soak_work.py KIND MNT BACK SECONDS ID
# runs one worker until SECONDS have passed; prints "ops N errors E" and
# exits 1 on any error (each printed). Kinds:
#   writer   files of its own: random pwrite + fsync against an in-memory
#            model, re-read and compared; truncates; renames; unlinks
#   reader   files of the redirect prefix tree read and compared with the
#            backing files; the copy-on-write file read (backing or, once
#            materialised, its own)
#   dirs     mkdir / rename / rmdir of nested directories
#   mmap     a file written and read through a shared mapping, msync, then
#            compared through read()
#   cow      appends to the copy-on-write file (the first one materialises
#            it), checks backing + appends, unlinks it now and then (the
#            rule shows the backing content again, the next append copies
#            it again)
import errno
import mmap
import os
import random
import sys
import time

kind, mnt, back, secs, wid = sys.argv[1:6]
end = time.monotonic() + float(secs)
rng = random.Random(int(wid) * 7919 + os.getpid())
ops = errors = estale = 0


def err(msg):
    global errors
    errors += 1
    print("soak %s %s: %s" % (kind, wid, msg), file=sys.stderr)


def known_estale(e, what):
    """An open for writing that races with a re-materialisation of the
    copy-on-write file can see ESTALE (the VFS retries a stale node once
    only; docs/redirect.md): counted, not failed. Read-only opens of a
    stale node read the backing file and never see it (readers fail on
    it)."""
    global estale
    if e.errno != errno.ESTALE:
        return False
    estale += 1
    print("soak %s %s: known: %s: %s" % (kind, wid, what, e), file=sys.stderr)
    return True


def writer():
    global ops
    d = os.path.join(mnt, "w%s" % wid)
    os.makedirs(d, exist_ok=True)
    models = {}
    while time.monotonic() < end:
        name = "f%d" % rng.randrange(6)
        p = os.path.join(d, name)
        m = models.setdefault(name, bytearray())
        r = rng.random()
        if r < 0.7:
            off = rng.randrange(len(m) + 4096)
            data = os.urandom(rng.randrange(1, 70000))
            fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
            os.pwrite(fd, data, off)
            if rng.random() < 0.3:
                os.fsync(fd)
            os.close(fd)
            if off > len(m):
                m.extend(bytes(off - len(m)))
            m[off:off + len(data)] = data
        elif r < 0.8 and name in models and os.path.exists(p):
            n = rng.randrange(len(m) + 1)
            os.truncate(p, n)
            del m[n:]
        elif r < 0.9 and os.path.exists(p):
            q = p + ".mv"
            os.rename(p, q)
            os.rename(q, p)
        else:
            if os.path.exists(p):
                os.unlink(p)
            models.pop(name, None)
            continue
        with open(p, "rb") as f:
            got = f.read()
        if got != bytes(m):
            err("%s: %d bytes read, model has %d" % (p, len(got), len(m)))
        ops += 1


def reader():
    global ops
    names = sorted(os.listdir(os.path.join(back, "tree")))
    while time.monotonic() < end:
        n = rng.choice(names)
        with open(os.path.join(mnt, "r", n), "rb") as f:
            got = f.read()
        with open(os.path.join(back, "tree", n), "rb") as f:
            want = f.read()
        if got != want:
            err("/r/%s differs from its backing file" % n)
        try:
            with open(os.path.join(mnt, "cow.txt"), "rb") as f:
                c = f.read()
            if not c.startswith(b"cow backing"):
                err("cow.txt: %r" % c[:40])
        except OSError as e:
            err("cow.txt: %s" % e)
        ops += 1


def dirs():
    global ops
    base = os.path.join(mnt, "d%s" % wid)
    while time.monotonic() < end:
        a = os.path.join(base, "a", "b", "c")
        os.makedirs(a, exist_ok=True)
        with open(os.path.join(a, "x"), "wb") as f:
            f.write(b"x" * rng.randrange(100))
        os.rename(os.path.join(base, "a"), os.path.join(base, "z"))
        os.unlink(os.path.join(base, "z", "b", "c", "x"))
        for p in ("z/b/c", "z/b", "z"):
            os.rmdir(os.path.join(base, p))
        if os.listdir(base):
            err("%s not empty: %r" % (base, os.listdir(base)))
        ops += 1


def mmapper():
    global ops
    p = os.path.join(mnt, "m%s" % wid)
    size = 1 << 20
    model = bytearray(size)
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    while time.monotonic() < end:
        mm = mmap.mmap(fd, size)
        for _ in range(16):
            off = rng.randrange(size - 512)
            data = os.urandom(rng.randrange(1, 512))
            mm[off:off + len(data)] = data
            model[off:off + len(data)] = data
        mm.flush()
        if mm[:] != model:
            err("mapping differs from the model")
        mm.close()
        if os.pread(fd, size, 0) != model:
            err("read() after msync differs from the model")
        ops += 1
    os.close(fd)


def cow():
    global ops
    p = os.path.join(mnt, "cow.txt")
    with open(os.path.join(back, "cow"), "rb") as f:
        backing = f.read()
    k = None
    while time.monotonic() < end:
        try:
            with open(p, "rb") as f:
                got = f.read()
        except OSError as e:
            if known_estale(e, "open of cow.txt"):
                continue
            raise
        if k is None:  # whatever an earlier run left
            k = (len(got) - len(backing)) // 2
        if got != backing + b"x\n" * k:
            err("cow.txt: %d bytes, expected backing + %d appends" %
                (len(got), k))
            k = (len(got) - len(backing)) // 2
        try:
            with open(p, "ab") as f:
                f.write(b"x\n")
        except OSError as e:
            if known_estale(e, "append to cow.txt"):
                continue
            raise
        k += 1
        if rng.random() < 0.3:
            os.unlink(p)
            k = 0
        ops += 1


try:
    {"cow": cow, "writer": writer, "reader": reader, "dirs": dirs,
     "mmap": mmapper}[kind]()
except OSError as e:
    err("%s" % e)
print("soak %s %s: ops %d errors %d estale %d" % (kind, wid, ops, errors,
                                                 estale))
sys.exit(1 if errors else 0)
