#!/usr/bin/env bash
# An fd opened read-only through the volume keeps reading what it opened,
# as a native fd does, whatever happens to the file between open(2) and
# the first read: unlinked, renamed over by another file, or chmod 000.
# The lower layer opens such an fd only at its first use (ops_file.c,
# open_deferrable), so the first READ is what these cases test: on the
# daemon path (-o no_passthrough: READs reach the daemon) and with the
# fast path (the kernel reads its backing file, registered from the
# node's O_PATH fd). The opener is nobody for chmod 000 (root's reads
# would pass anyway), and also root with O_NOATIME.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
mkdir "$base/lower" "$base/mnt"

# opener.py MNT: each case in a child (as nobody where it says so) that
# opens a file and waits; the parent changes the file through the volume,
# then the child reads. Prints FAIL lines; exit 1 if any.
cat >"$base/opener.py" <<'EOF'
import os, sys

mnt = sys.argv[1]
bad = 0

def case(name, as_nobody, flags, change, want):
    global bad
    path = os.path.join(mnt, name)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r1); os.close(w2)
        try:
            if as_nobody:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            fd = os.open(path, os.O_RDONLY | flags)
            os.write(w1, b"o")
            os.read(r2, 1)
            got = os.pread(fd, 64, 0)
            os.close(fd)
        except OSError as e:
            print("FAIL %s: %s" % (name, e))
            os._exit(1)
        if got != want:
            print("FAIL %s: read %r, expected %r" % (name, got, want))
            os._exit(1)
        os._exit(0)
    os.close(w1); os.close(r2)
    if os.read(r1, 1) != b"o":
        print("FAIL %s: the child could not open it" % name)
    else:
        change(path)
    os.write(w2, b"g")
    _, st = os.waitpid(pid, 0)
    if st != 0:
        bad = 1

case("unlinked", True, 0, os.unlink, b"data of unlinked\n")
case("replaced", True, 0,
     lambda p: os.rename(os.path.join(mnt, "newer"), p),
     b"data of replaced\n")
case("chmod000", True, 0, lambda p: os.chmod(p, 0), b"data of chmod000\n")
case("noatime", False, os.O_NOATIME, os.unlink, b"data of noatime\n")
sys.exit(bad)
EOF

for mode in no_passthrough passthrough; do
	rm -rf "${base:?}/lower/"*
	for f in unlinked replaced chmod000 noatime; do
		printf 'data of %s\n' "$f" >"$base/lower/$f"
		chmod 644 "$base/lower/$f"
	done
	printf 'newer\n' >"$base/lower/newer"
	opts=()
	[[ $mode == no_passthrough ]] && opts=(-o no_passthrough)
	IT_LOG=$base/$mode.log
	it_mount "$base/lower" "$base/mnt" "${opts[@]}"
	out=$(python3 "$base/opener.py" "$base/mnt") ||
		it_fail "$mode: $out"
	it_log "$mode: unlinked, replaced, chmod 000 (as nobody), O_NOATIME: ok"
	it_unmount "$base/mnt"
done
