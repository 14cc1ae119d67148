#!/usr/bin/env python3
# The workload and the checker of crashloop.sh (see there).
#
#   crashwork.py work MNT LOG ROUND REDIRECT
#       runs until the volume fails under it (the daemon is killed):
#       3 appenders (64-byte records, fsync after each), a renamer (a
#       3000-byte temp file, fsync, rename, fsync of the directory), and
#       with REDIRECT=1 appends to copy-on-write files (materialising
#       them) and reads of hydrate files (starting their copy). Every
#       operation whose fsync returned is acknowledged by a line in LOG
#       (a file outside the volume), written after the fsync.
#   crashwork.py check MNT LOG BACK REDIRECT CRYPT SIZES
#       after the remount: every acknowledged record, renamed file and
#       copy-on-write tail is there; every file of the tree reads (a crypt
#       volume may fail only in the last two blocks of a file written in
#       the last round: the write in flight at the kill); no temp file of
#       a materialisation is visible; copy-on-write files are the whole
#       backing content plus whole tails, hydrate files the backing
#       content. Writes "PATH SIZE" of every regular file to SIZES.
import os
import re
import sys
import threading

REC = 64
NCOW = 6
BLOCK = 4096


def record(rnd, t, n):
    return (f"r{rnd:04d} a{t} {n:010d} ".ljust(REC - 1, "x") + "\n").encode()


def tail(rnd, k):
    return (f"tail r{rnd:04d} f{k} ".ljust(REC - 1, "t") + "\n").encode()


def renamed_content(rnd, i):
    seed = f"n r{rnd} {i} ".encode()
    return (seed * (3000 // len(seed) + 1))[:3000]


class Acks:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self, line):
        os.write(self.fd, (line + "\n").encode())


def work(mnt, log, rnd, redirect):
    ack = Acks(log)
    ack(f"S {rnd}")
    stop = threading.Event()

    def appender(t):
        name = f"a{t}.r{rnd}"
        fd = os.open(f"{mnt}/{name}", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o644)
        n = 0
        while not stop.is_set():
            os.write(fd, record(rnd, t, n))
            os.fsync(fd)
            n += 1
            ack(f"A {name} {n}")

    def renamer():
        dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
        i = 0
        while not stop.is_set():
            tmp, dst = f"{mnt}/n.r{rnd}.{i}.tmp", f"{mnt}/n.r{rnd}.{i}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, renamed_content(rnd, i))
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, dst)
            os.fsync(dfd)
            ack(f"N n.r{rnd}.{i}")
            i += 1

    def cow():
        k = rnd % NCOW
        while not stop.is_set():
            fd = os.open(f"{mnt}/cow/f{k}", os.O_WRONLY | os.O_APPEND)
            os.write(fd, tail(rnd, k))
            os.fsync(fd)
            os.close(fd)
            ack(f"C cow/f{k} {rnd}")
            k = (k + 1) % NCOW
            stop.wait(0.05)

    def hydrate():
        k = 0
        while not stop.is_set():
            with open(f"{mnt}/hyd/f{k}", "rb") as f:
                f.read(BLOCK)
            k = (k + 1) % NCOW
            stop.wait(0.05)

    def run(fn, *a):
        try:
            fn(*a)
        except OSError:
            pass        # the daemon is gone
        stop.set()

    jobs = [(appender, 0), (appender, 1), (appender, 2), (renamer,)]
    if redirect:
        jobs += [(cow,), (hydrate,)]
    ts = [threading.Thread(target=run, args=j) for j in jobs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def fail(msg):
    print(f"crashwork: {msg}", file=sys.stderr)
    sys.exit(1)


def read_tolerant(path, crypt, last_round):
    """The file's bytes; with crypt, an EIO in the last two blocks of a file
    of the last round ends the data there (the torn in-flight write)."""
    size = os.stat(path).st_size
    out = bytearray()
    with open(path, "rb", buffering=0) as f:
        while len(out) < size:
            try:
                b = f.read(BLOCK)
            except OSError as e:
                last = (size - 1) // BLOCK
                if (crypt and e.errno == 5 and last_round and
                        len(out) // BLOCK >= last - 1):
                    return bytes(out), True
                fail(f"{path}: read at {len(out)} of {size}: {e}")
            if not b:
                break
            out += b
    return bytes(out), False


def check(mnt, log, back, redirect, crypt, sizes_out):
    acked, renamed, tails = {}, set(), {}
    last_round = None
    for line in open(log):
        p = line.split()
        if p[0] == "S":
            last_round = int(p[1])
        elif p[0] == "A":
            acked[p[1]] = max(acked.get(p[1], 0), int(p[2]))
        elif p[0] == "N":
            renamed.add(p[1])
        elif p[0] == "C":
            tails.setdefault(p[1], set()).add(int(p[2]))
    torn = 0

    def in_last_round(name):
        return last_round is not None and re.search(
            rf"\.r{last_round}(\.|$)", name) is not None

    # the whole tree reads; no materialisation temp file shows
    sizes = []
    for d, dirs, files in os.walk(mnt):
        for n in dirs + files:
            if "fsfilter" in n:
                fail(f"internal file visible: {d}/{n}")
        for n in files:
            p = os.path.join(d, n)
            data, t = read_tolerant(p, crypt, in_last_round(n))
            torn += t
            sizes.append(f"{os.path.relpath(p, mnt)} {os.stat(p).st_size}")
    with open(sizes_out, "w") as f:
        f.write("\n".join(sizes) + "\n")

    # acknowledged records: whole and in order
    nrec = 0
    for name, n in acked.items():
        m = re.match(r"a(\d)\.r(\d+)$", name)
        t, rnd = int(m.group(1)), int(m.group(2))
        data, t_ = read_tolerant(f"{mnt}/{name}", crypt, in_last_round(name))
        have = len(data) // REC
        if t_ and have < n:
            # documented: the block rewritten by the in-flight append
            # held acknowledged records and is torn
            n = have
        if have < n:
            fail(f"{name}: {n} records acknowledged, {have} there")
        for k in range(n):
            if data[k * REC:(k + 1) * REC] != record(rnd, t, k):
                fail(f"{name}: record {k} damaged: {data[k * REC:k * REC + 40]!r}")
        nrec += n
    for name in renamed:
        m = re.match(r"n\.r(\d+)\.(\d+)$", name)
        try:
            data = open(f"{mnt}/{name}", "rb").read()
        except OSError as e:
            fail(f"acknowledged rename {name}: {e}")
        if data != renamed_content(int(m.group(1)), int(m.group(2))):
            fail(f"renamed file {name}: wrong content ({len(data)} bytes)")

    if redirect:
        for k in range(NCOW):
            want = open(f"{back}/hyd/f{k}", "rb").read()
            if read_tolerant(f"{mnt}/hyd/f{k}", crypt, False)[0] != want:
                fail(f"hyd/f{k}: not the backing content")
            want = open(f"{back}/cow/f{k}", "rb").read()
            data, t_ = read_tolerant(f"{mnt}/cow/f{k}", crypt, True)
            if t_:
                # the in-flight tail tore the last block: what is before
                # it must be right; that round's tail may be gone
                tails.get(f"cow/f{k}", set()).discard(last_round)
                if len(data) < len(want):
                    if data != want[:len(data)]:
                        fail(f"cow/f{k}: backing content damaged")
                    continue
                data = data[:len(want) + (len(data) - len(want)) // REC * REC]
            if data[:len(want)] != want:
                fail(f"cow/f{k}: not the whole backing content "
                     f"({len(data)} bytes)")
            rest = data[len(want):]
            if len(rest) % REC:
                fail(f"cow/f{k}: a partial tail ({len(rest)} bytes)")
            got = set()
            for i in range(0, len(rest), REC):
                m = re.match(rb"tail r(\d+) f(\d+) t*\n$", rest[i:i + REC])
                if not m or int(m.group(2)) != k:
                    fail(f"cow/f{k}: damaged tail {rest[i:i + 40]!r}")
                got.add(int(m.group(1)))
            missing = tails.get(f"cow/f{k}", set()) - got
            if missing:
                fail(f"cow/f{k}: acknowledged tails of rounds "
                     f"{sorted(missing)} missing")
    print(f"{nrec} acknowledged records, {len(renamed)} renamed files, "
          f"{sum(len(v) for v in tails.values())} cow tails all there; "
          f"{torn} torn last block(s)")


if __name__ == "__main__":
    if sys.argv[1] == "work":
        work(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1")
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1",
              sys.argv[6] == "1", sys.argv[7])
    else:
        sys.exit("usage: see the top of crashwork.py")
