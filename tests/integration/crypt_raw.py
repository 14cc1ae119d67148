#!/usr/bin/env python3
"""crypt raw view: a plaintext process and a raw-view process (comm
"rawview", listed in raw=) interleave writes, stat, read and mmap on the
same file of one mount. The plaintext side must always see the model's
bytes and size; the raw side exactly the lower file's bytes and size.

  crypt_raw.py MNT LOWER NAME ITERATIONS SEED
"""
import ctypes, mmap, os, random, struct, sys

mnt, lower, name, iters, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
vpath, lpath = os.path.join(mnt, name), os.path.join(lower, name)
BLOCK, CBLOCK, HDR = 4096, 4124, 96


def raw_size(plain):
    if plain == 0:
        return 0
    full, rem = divmod(plain, BLOCK)
    return HDR + full * CBLOCK + (rem + 28 if rem else 0)


def fail(msg):
    sys.stderr.write("crypt_raw.py: FAIL: %s\n" % msg)
    sys.stderr.flush()
    os._exit(1)


def read_all(fd):
    out, off = [], 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            return b"".join(out)
        out.append(b)
        off += len(b)


def raw_child(rd, wr):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, b"rawview", 0, 0, 0):  # PR_SET_NAME
        fail("prctl")
    keep = None      # a long-lived raw fd across the parent's changes
    while True:
        line = rd.readline()
        if not line:
            os._exit(0)
        plain = int(line)
        want = raw_size(plain)
        with open(lpath, "rb") as f:
            stored = f.read()
        if len(stored) != want:
            fail("lower size %d, expected %d" % (len(stored), want))
        if os.stat(vpath).st_size != want:
            fail("raw stat %d, want %d" % (os.stat(vpath).st_size, want))
        fd = os.open(vpath, os.O_RDONLY)
        if os.fstat(fd).st_size != want:
            fail("raw fstat")
        if read_all(fd) != stored:
            fail("raw read differs from the lower file")
        if os.lseek(fd, 0, os.SEEK_END) != want:
            fail("raw SEEK_END")
        if want:
            m = mmap.mmap(fd, want, mmap.MAP_PRIVATE, mmap.PROT_READ)
            if m[:] != stored:
                fail("raw mmap differs from the lower file")
            m.close()
        if keep is None:
            keep = fd
        else:
            os.close(fd)
            if os.fstat(keep).st_size != want or read_all(keep) != stored:
                fail("long-lived raw fd")
        try:
            os.open(vpath, os.O_WRONLY)
            fail("raw view opened for writing")
        except OSError as e:
            if e.errno != 30:
                fail("raw write open: %s" % e)
        wr.write("ok\n")
        wr.flush()


def main():
    rng = random.Random(seed)
    p2c_r, p2c_w = os.pipe()
    c2p_r, c2p_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(p2c_w); os.close(c2p_r)
        raw_child(os.fdopen(p2c_r), os.fdopen(c2p_w, "w"))
    os.close(p2c_r); os.close(c2p_w)
    to_c, from_c = os.fdopen(p2c_w, "w"), os.fdopen(c2p_r)

    model = bytearray()
    fd = os.open(vpath, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    rfd = os.open(vpath, os.O_RDONLY)  # long-lived cached plaintext reader
    for i in range(iters):
        op = rng.random()
        if op < 0.6:
            off = rng.randrange(0, len(model) + 20000)
            data = os.urandom(rng.randrange(1, 30000))
            os.pwrite(fd, data, off)
            if off > len(model):
                model.extend(bytes(off - len(model)))
            model[off:off + len(data)] = data
        elif op < 0.8:
            n = rng.randrange(0, len(model) + 10000)
            os.ftruncate(fd, n)
            if n < len(model):
                del model[n:]
            else:
                model.extend(bytes(n - len(model)))
        else:
            # a shared writable mapping of the plaintext side
            if model:
                m = mmap.mmap(fd, len(model))
                off = rng.randrange(0, len(model))
                data = os.urandom(min(5000, len(model) - off))
                m[off:off + len(data)] = data
                model[off:off + len(data)] = data
                m.flush()
                m.close()
        os.fsync(fd)
        # the raw side stats, reads and maps the file ...
        to_c.write("%d\n" % len(model))
        to_c.flush()
        if from_c.readline() != "ok\n":
            fail("raw child died")
        # ... and the plaintext side must still see plaintext
        if os.stat(vpath).st_size != len(model):
            fail("plain stat %d, want %d (iteration %d)" % (os.stat(vpath).st_size, len(model), i))
        if os.fstat(rfd).st_size != len(model):
            fail("plain fstat of the long-lived fd")
        if read_all(rfd) != model:
            fail("plain read through the long-lived fd differs (iteration %d)" % i)
        if os.lseek(rfd, 0, os.SEEK_END) != len(model):
            fail("plain SEEK_END")
        if model:
            m = mmap.mmap(rfd, len(model), mmap.MAP_SHARED, mmap.PROT_READ)
            if m[:] != model:
                fail("plain mmap differs (iteration %d)" % i)
            m.close()
        with open(vpath, "rb") as f:
            if f.read() != model:
                fail("plain fresh open read differs")
    to_c.close()
    _, st = os.waitpid(pid, 0)
    if st:
        fail("raw child exit status %d" % st)
    os.close(fd); os.close(rfd)


main()
