#!/usr/bin/env python3
# Hostile names (hostile_names.sh): file names with newlines, tabs, invalid
# UTF-8, leading dashes, 255-byte components and paths up to and beyond
# PATH_MAX, driven with raw bytes through *at() calls so the paths the
# kernel sees are exactly these bytes.
#
#   hostile.py ops DIR OUT       run the operation sequence in DIR (created),
#                                one result line per operation in OUT (errno
#                                names and the bytes read, hex): the output of
#                                a native directory and of a volume must be
#                                identical
#   hostile.py names OUT         the names, hex, one a line (for the shell)
#   hostile.py spy JSON TEXT PREFIX
#                                the monitor's events: every name's create
#                                event is in the JSON output with its path
#                                round-tripping the bytes (invalid UTF-8 as
#                                \udcXX, Python's surrogateescape), every
#                                line of JSON parses, and no line of the text
#                                output is forged by a name (each starts with
#                                a timestamp, has no control byte)
#   hostile.py tree DIR OUT      every name below DIR with its content (hex)
import errno
import json
import os
import re
import sys

NAMES = [
    b"nl\nname", b"\nleading-nl", b"trailing-nl\n", b"two\n\nlines",
    b"tab\there", b"\ttab", b"cr\rret", b"\x01\x02ctl", b"\x1b[31mesc\x1b[0m",
    b"del\x7f", b"\xff\xfe", b"lone\x80cont", b"\xc3", b"overlong\xc0\xaf",
    b"surrogate\xed\xa0\x80", b"-dash", b"--", b"-rf", b"--help", b" spaces ",
    b'quote"back\\slash', b"semi;comma,eq=>x", b"star*q?[b]", b"pct%s%n",
    b"\xe2\x82\xac-euro", b"a" * 255, b"\xe2\x82\xac" * 85, b"\xff" * 255,
    b"\n" * 255, b"-" + b"\x80" * 254,
]
# the same names as components of a deep path (250 bytes each)
DEEP_COMPONENTS = [(b"\n\xff-" + bytes([0x41 + i]) * 247) for i in range(20)]


def errname(e):
    return errno.errorcode.get(e, str(e))


class Runner:
    def __init__(self, root):
        self.root = root
        self.out = []

    def rec(self, what, fn, *args, **kw):
        try:
            v = fn(*args, **kw)
        except OSError as e:
            self.out.append("%s -> %s" % (what, errname(e.errno)))
            return None
        if isinstance(v, bytes):
            r = "bytes " + v.hex()
        elif isinstance(v, os.stat_result):
            r = "stat type=%o perm=%o size=%d nlink=%d" % (
                v.st_mode >> 12, v.st_mode & 0o7777, v.st_size, v.st_nlink)
        elif isinstance(v, (list, set)):
            r = "list " + ",".join(sorted(x.hex() for x in v))
        elif v is None or isinstance(v, int):
            r = "ok"
        else:
            r = repr(v)
        self.out.append("%s -> %s" % (what, r))
        return v


def wfile(dfd, name, data, flags=os.O_CREAT | os.O_EXCL | os.O_WRONLY):
    fd = os.open(name, flags, 0o644, dir_fd=dfd)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def rfile(dfd, name):
    fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
    try:
        out = b""
        while True:
            b = os.read(fd, 65536)
            if not b:
                return out
            out += b
    finally:
        os.close(fd)


def rdwr(dfd, name):
    fd = os.open(name, os.O_RDWR, dir_fd=dfd)
    try:
        os.pwrite(fd, b"XY\nZ", 3)
        return os.pread(fd, 4096, 0)
    finally:
        os.close(fd)


def ftrunc(dfd, name, n):
    fd = os.open(name, os.O_WRONLY, dir_fd=dfd)
    try:
        os.ftruncate(fd, n)
    finally:
        os.close(fd)


def ls(dfd, sub=b"."):
    fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
    try:
        return set(os.fsencode(n) for n in os.listdir(fd))
    finally:
        os.close(fd)


def xattrs(dfd, name):
    # os.*xattr take paths, not dir_fd: use /proc/self/fd/N/NAME would go
    # through a path again; an O_PATH fd does not support xattrs, so open it
    fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
    return fd


def other(name, tag):
    # a sibling name of at most 255 bytes
    return (tag + name)[:255] if len(name) < 255 else tag + name[1:]


def ops_one(r, dfd, i, name):
    t = "n%d" % i
    content = b"content of " + name + b"\n\x00\xff end"
    r.rec(t + " create", wfile, dfd, name, content)
    r.rec(t + " create-excl-again", wfile, dfd, name, b"x")
    r.rec(t + " stat", os.stat, name, dir_fd=dfd, follow_symlinks=False)
    r.rec(t + " read", rfile, dfd, name)
    r.rec(t + " in-listing", lambda: name in ls(dfd))
    r.rec(t + " rdwr", rdwr, dfd, name)
    r.rec(t + " truncate", ftrunc, dfd, name, 9)
    r.rec(t + " read-truncated", rfile, dfd, name)
    fd = None
    try:
        fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
    except OSError as e:
        r.out.append(t + " open-for-xattr -> " + errname(e.errno))
    if fd is not None:
        xname = (b"user." + name)[:255]
        r.rec(t + " setxattr-value", os.setxattr, fd, b"user.h", name)
        r.rec(t + " getxattr-value", os.getxattr, fd, b"user.h")
        r.rec(t + " setxattr-name", os.setxattr, fd, xname, b"v\n")
        r.rec(t + " getxattr-name", os.getxattr, fd, xname)
        r.rec(t + " listxattr", lambda: set(
            os.fsencode(x) for x in os.listxattr(fd)
            if x.startswith("user.")))
        r.rec(t + " setxattr-256", os.setxattr, fd, b"user." + b"x" * 251,
              b"v")
        r.rec(t + " removexattr", os.removexattr, fd, xname)
        os.close(fd)
    moved = other(name, b"~")
    r.rec(t + " rename", os.rename, name, moved, src_dir_fd=dfd,
          dst_dir_fd=dfd)
    r.rec(t + " stat-old", os.stat, name, dir_fd=dfd)
    r.rec(t + " read-moved", rfile, dfd, moved)
    r.rec(t + " rename-back", os.rename, moved, name, src_dir_fd=dfd,
          dst_dir_fd=dfd)
    hard = other(name, b"L")
    r.rec(t + " link", os.link, name, hard, src_dir_fd=dfd, dst_dir_fd=dfd)
    r.rec(t + " stat-link", os.stat, hard, dir_fd=dfd)
    r.rec(t + " unlink-link", os.unlink, hard, dir_fd=dfd)
    sym = other(name, b"s")
    r.rec(t + " symlink", os.symlink, name, sym, dir_fd=dfd)
    r.rec(t + " readlink", os.readlink, sym, dir_fd=dfd)
    r.rec(t + " read-via-symlink", rfile, dfd, sym)
    r.rec(t + " unlink-symlink", os.unlink, sym, dir_fd=dfd)
    d = other(name, b"D")
    r.rec(t + " mkdir", os.mkdir, d, 0o755, dir_fd=dfd)
    try:
        sub = os.open(d, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
    except OSError as e:
        r.out.append(t + " open-dir -> " + errname(e.errno))
        sub = None
    if sub is not None:
        r.rec(t + " create-in-dir", wfile, sub, name, name)
        r.rec(t + " list-dir", ls, sub)
        r.rec(t + " rename-into-dir", os.rename, name, name,
              src_dir_fd=dfd, dst_dir_fd=sub)
        r.rec(t + " read-in-dir", rfile, sub, name)
        r.rec(t + " rmdir-nonempty", os.rmdir, d, dir_fd=dfd)
        r.rec(t + " rename-out", os.rename, name, name, src_dir_fd=sub,
              dst_dir_fd=dfd)
        r.rec(t + " list-dir-empty", ls, sub)
        os.close(sub)
    r.rec(t + " rmdir", os.rmdir, d, dir_fd=dfd)
    r.rec(t + " read-final", rfile, dfd, name)


def ops_toolong(r, dfd):
    long = b"b" * 256
    r.rec("256 create", wfile, dfd, long, b"x")
    r.rec("256 stat", os.stat, long, dir_fd=dfd)
    r.rec("256 mkdir", os.mkdir, long, dir_fd=dfd)
    r.rec("256 symlink", os.symlink, b"t", long, dir_fd=dfd)
    r.rec("255 create", wfile, dfd, b"c" * 255, b"x")
    r.rec("256 rename-to", os.rename, b"c" * 255, long, src_dir_fd=dfd,
          dst_dir_fd=dfd)
    r.rec("256 link-to", os.link, b"c" * 255, long, src_dir_fd=dfd,
          dst_dir_fd=dfd)
    r.rec("256 unlink", os.unlink, long, dir_fd=dfd)
    r.rec("255 unlink", os.unlink, b"c" * 255, dir_fd=dfd)
    # a symlink target of PATH_MAX-1 bytes is allowed, PATH_MAX is not
    r.rec("symlink-4095", os.symlink, b"t/" * 2047 + b"t", b"sl", dir_fd=dfd)
    r.rec("readlink-4095", lambda: len(os.readlink(b"sl", dir_fd=dfd)))
    r.rec("symlink-4096", os.symlink, b"t/" * 2048, b"sl2", dir_fd=dfd)
    r.rec("unlink-sl", os.unlink, b"sl", dir_fd=dfd)


def ops_deep(r, dfd):
    # a relative path of exactly PATH_MAX-1 bytes works, PATH_MAX does not
    comps = DEEP_COMPONENTS[:16]
    path = b"/".join(comps)
    r.rec("deep mkdir -p", lambda: [
        os.mkdir(b"/".join(comps[:k + 1]), 0o755, dir_fd=dfd)
        for k in range(len(comps))] and None)
    fill = 4095 - len(path) - 1
    leaf = path + b"/" + b"\n" * fill
    assert len(leaf) == 4095
    r.rec("deep create-4095", wfile, dfd, leaf, b"deep\n")
    r.rec("deep read-4095", rfile, dfd, leaf)
    r.rec("deep stat-4095", os.stat, leaf, dir_fd=dfd)
    r.rec("deep create-4096", wfile, dfd, leaf + b"x", b"deep\n")
    r.rec("deep stat-4096", os.stat, leaf + b"x", dir_fd=dfd)
    r.rec("deep rename-4095", os.rename, leaf, path + b"/r", src_dir_fd=dfd,
          dst_dir_fd=dfd)
    r.rec("deep rename-back", os.rename, path + b"/r", leaf, src_dir_fd=dfd,
          dst_dir_fd=dfd)
    # deeper than PATH_MAX from the root, one directory fd at a time
    fds = [os.open(b".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)]
    for k, c in enumerate(DEEP_COMPONENTS):
        if k >= 16:
            r.rec("deeper mkdir %d" % k, os.mkdir, c, 0o755, dir_fd=fds[-1])
        fds.append(os.open(c, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    r.rec("deeper create", wfile, fds[-1], b"leaf\n", b"beyond PATH_MAX")
    r.rec("deeper read", rfile, fds[-1], b"leaf\n")
    r.rec("deeper list", ls, fds[-1])
    r.rec("deeper rename", os.rename, b"leaf\n", b"-leaf", src_dir_fd=fds[-1],
          dst_dir_fd=fds[-1])
    r.rec("deeper unlink", os.unlink, b"-leaf", dir_fd=fds[-1])
    r.rec("deeper getcwd", lambda: (os.fchdir(fds[-1]), len(os.getcwdb()) > 4096)[1])
    os.chdir("/")
    for k in range(len(DEEP_COMPONENTS) - 1, -1, -1):
        os.close(fds[k + 1])
        if k >= 16:
            r.rec("deeper rmdir %d" % k, os.rmdir, DEEP_COMPONENTS[k],
                  dir_fd=fds[k])
    os.close(fds[0])
    r.rec("deep unlink-4095", os.unlink, leaf, dir_fd=dfd)
    for k in range(len(comps), 0, -1):
        r.rec("deep rmdir %d" % k, os.rmdir, b"/".join(comps[:k]), dir_fd=dfd)


def cmd_ops(root, out):
    os.makedirs(root, exist_ok=True)
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    r = Runner(root)
    for i, n in enumerate(NAMES):
        ops_one(r, dfd, i, n)
    r.rec("listing-final", ls, dfd)
    ops_toolong(r, dfd)
    ops_deep(r, dfd)
    os.close(dfd)
    with open(out, "w") as f:
        f.write("\n".join(r.out) + "\n")


def cmd_tree(root, out):
    lines = []
    for dp, dns, fns in os.walk(os.fsencode(root)):
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            rel = os.path.relpath(p, os.fsencode(root))
            with open(p, "rb") as f:
                lines.append("%s %s" % (rel.hex(), f.read().hex()))
    with open(out, "w") as f:
        f.write("\n".join(sorted(lines)) + "\n")


TS = re.compile(rb"^\d\d:\d\d:\d\d\.\d{6} ")


def cmd_spy(jsonf, textf, prefix):
    prefix = os.fsencode(prefix)
    seen = set()
    n = 0
    with open(jsonf, "rb") as f:
        for raw in f:
            n += 1
            try:
                ev = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                sys.exit("spy --json: line %d is not JSON (%s): %r" %
                         (n, e, raw[:200]))
            for k in ("path", "path2", "comm"):
                if k in ev:
                    ev[k] = ev[k].encode("utf-8", "surrogateescape")
            if ev["op"] == "create" and ev["phase"] == "post":
                seen.add(ev["path"])
    missing = [x for x in NAMES if prefix + b"/" + x not in seen]
    if missing:
        sys.exit("spy --json: no create event with the exact bytes of %d "
                 "names, e.g. %r (seen e.g. %r)" %
                 (len(missing), missing[0],
                  sorted(p for p in seen)[:3]))
    n = 0
    with open(textf, "rb") as f:
        for raw in f:
            n += 1
            line = raw.rstrip(b"\n")
            if n == 1 and line.startswith(b"TIME "):
                continue
            if not TS.match(line) or re.search(rb"[\x00-\x1f\x7f]", line):
                sys.exit("spy text: line %d forged or with control bytes: "
                         "%r" % (n, line[:200]))
    if n < len(NAMES):
        sys.exit("spy text: only %d lines" % n)
    print("spy: %d names round-trip in JSON, %d text lines clean" %
          (len(NAMES), n))


def cmd_names(out):
    with open(out, "w") as f:
        f.write("\n".join(n.hex() for n in NAMES) + "\n")


def esc(b, glob=False):
    """A name in redirect's rule syntax (docs/redirect.md, "Names"):
    every byte that is not plain printable ASCII as backslash-x-HH, the
    syntax characters with a backslash."""
    out = ""
    for c in b:
        ch = chr(c)
        if c < 0x21 or c >= 0x7f:
            out += "\\x%02x" % c
        elif ch in "\\,;=" or (not glob and ch in "*?[]"):
            out += "\\" + ch
        else:
            out += ch
    return out


# names used for rules (short enough for two of them in a path)
RNAMES = [n for n in NAMES if len(n) < 120 and b"/" not in n]


def redirect_setup(back):
    back = os.fsencode(back)
    for sub in (b"p", b"e"):
        os.makedirs(os.path.join(back, sub), exist_ok=True)
    for i, n in enumerate(RNAMES):
        for sub in (b"p", b"e"):
            with open(os.path.join(back, sub, n), "wb") as f:
                f.write(b"backing %d " % i + n + b"\n")
    with open(os.path.join(back, b"glob"), "wb") as f:
        f.write(b"glob backing\n")
    args = ["rule=/\\n-p\\;/=>%s/p" % back.decode()]
    for i, n in enumerate(RNAMES):
        args.append("rule=/e/%s=>%s/e/%s" % (esc(n), back.decode(), esc(n)))
    return ";".join(args)


def run(argv, ok=True):
    import subprocess
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if ok and p.returncode != 0:
        sys.exit("%r failed (%d): %r" % (argv[:3], p.returncode, p.stderr))
    return p


def expect(cond, what):
    if not cond:
        sys.exit("redirect: " + what)


def cmd_redirect(fsf, mnt, lower, back):
    mnt, lower, back = (os.fsencode(x) for x in (mnt, lower, back))
    # exact rules need their lower parent directory
    os.makedirs(os.path.join(mnt, b"e"), exist_ok=True)
    # prefix rule: the backing directory's names, listed and read
    pdir = os.path.join(mnt, b"\n-p;")
    got = set(os.fsencode(x) for x in os.listdir(pdir))
    expect(got == set(RNAMES), "prefix listing differs: %r" %
           sorted(got ^ set(RNAMES))[:3])
    for i, n in enumerate(RNAMES):
        want = b"backing %d " % i + n + b"\n"
        with open(os.path.join(pdir, n), "rb") as f:
            expect(f.read() == want, "prefix read of %r" % n)
        with open(os.path.join(mnt, b"e", n), "rb") as f:
            expect(f.read() == want, "exact read of %r" % n)
    # a glob (added at run time, after its files were made through the
    # volume, so that they are encrypted when crypt is below) matches
    # names with a newline only
    os.makedirs(os.path.join(mnt, b"g"), exist_ok=True)
    for n in (b"a\nb", b"ab", b"\n"):
        with open(os.path.join(mnt, b"g", n), "wb") as f:
            f.write(b"lower\n")
    run([fsf, b"redirect", b"add", mnt, b"/g/*\\x0a*=>" + back + b"/glob"])
    for n, want in ((b"a\nb", b"glob backing\n"), (b"ab", b"lower\n"),
                    (b"\n", b"glob backing\n")):
        with open(os.path.join(mnt, b"g", n), "rb") as f:
            got = f.read()
            expect(got == want, "glob read of %r: %r" % (n, got))
    # run-time rules through the port, escaped and (one) raw
    os.makedirs(os.path.join(mnt, b"a"), exist_ok=True)
    for i, n in enumerate(RNAMES):
        run([fsf, b"redirect", b"add", mnt, ("/a/%s=>%s/e/%s" % (
            esc(n), back.decode(), esc(n))).encode()])
    # raw bytes work too, except whitespace at either end (trimmed)
    raw = b"raw\nnl\xff"
    with open(os.path.join(back, b"raw\nb"), "wb") as f:
        f.write(b"raw backing\n")
    run([fsf, b"redirect", b"add", mnt, b"/a/" + raw + b"=>" + back +
         b"/raw\nb"])
    with open(os.path.join(mnt, b"a", raw), "rb") as f:
        expect(f.read() == b"raw backing\n", "raw rule read")
    for i, n in enumerate(RNAMES):
        with open(os.path.join(mnt, b"a", n), "rb") as f:
            expect(f.read() == b"backing %d " % i + n + b"\n",
                   "run-time rule read of %r" % n)
    # list: one line per rule, none forged, and each line re-adds as is
    lst = run([fsf, b"redirect", b"list", mnt]).stdout
    lines = lst.rstrip(b"\n").split(b"\n")
    nrules = 1 + 2 * len(RNAMES) + 1 + 1
    expect(len(lines) == nrules, "list has %d lines for %d rules" %
           (len(lines), nrules))
    for ln in lines:
        expect(ln.startswith(b"/") and re.search(rb"[\x00-\x1f\x7f]", ln)
               is None, "list line with control bytes: %r" % ln[:100])
        run([fsf, b"redirect", b"add", mnt, ln])
    lst2 = run([fsf, b"redirect", b"list", mnt]).stdout
    expect(lst2 == lst, "list changed after re-adding its own lines")
    # remove by escaped name: the virtual name is gone
    for i, n in enumerate(RNAMES):
        run([fsf, b"redirect", b"remove", mnt, ("/a/" + esc(n)).encode()])
        try:
            os.stat(os.path.join(mnt, b"a", n))
            sys.exit("redirect: /a/%r still there after remove" % n)
        except FileNotFoundError:
            pass
    # copy-on-write of a lower file with a hostile name
    for i, n in enumerate(RNAMES[:8]):
        lp = os.path.join(mnt, b"a", n)
        with open(lp, "wb") as f:
            f.write(b"lower content\n")
        run([fsf, b"redirect", b"add", mnt, ("/a/%s=>%s/e/%s,policy=cow" % (
            esc(n), back.decode(), esc(n))).encode()])
        vp = os.path.join(mnt, b"a", n)
        want = b"backing %d " % i + n + b"\n"
        with open(vp, "rb") as f:
            expect(f.read() == want, "cow read before write")
        with open(vp, "r+b") as f:
            f.seek(0, 2)
            f.write(b"appended\n")
        with open(vp, "rb") as f:
            expect(f.read() == want + b"appended\n", "cow read after write")
        names = os.listdir(os.path.join(lower, b"a"))
        expect(not any(x.startswith(b".fsfilter-redirect") for x in names),
               "temp file left: %r" % names)
    print("redirect: %d hostile names through prefix, exact, glob, "
          "run-time and copy-on-write rules" % len(RNAMES))


if __name__ == "__main__":
    c = sys.argv[1]
    if c == "ops":
        cmd_ops(os.fsencode(sys.argv[2]), sys.argv[3])
    elif c == "tree":
        cmd_tree(sys.argv[2], sys.argv[3])
    elif c == "spy":
        cmd_spy(sys.argv[2], sys.argv[3], sys.argv[4])
    elif c == "redirect-setup":
        print(redirect_setup(sys.argv[2]))
    elif c == "redirect":
        cmd_redirect(*(os.fsencode(a) for a in sys.argv[2:6]))
    elif c == "names":
        cmd_names(sys.argv[2])
    else:
        sys.exit("usage: hostile.py ops|tree|spy|names ...")
