# The mixed workload of bench/run and bench/run-crypt, sourced by both:
# untar a generated source-like tree, find+read all its files, find by
# name and age, grep -r a word, rm -r.
#
#   mixed_tarball OUTDIR N   write OUTDIR/src.tar: N files of text, sizes
#                            lognormal around 5 KiB (up to 512 KiB), in
#                            17 x 5 directories; deterministic
#   mixed_run DIR TAR        run the workload once in DIR (TAR as made by
#                            mixed_tarball); status 0 if every step
#                            worked. The caller times it and drops caches.

mixed_tarball() {
	python3 - "$1/src" "$2" <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2]); r = random.Random(8)
words = "static int void struct return if else for while fsfilter volume filter".split()
for i in range(n):
    sub = "%s/m%d/s%d" % (d, i % 17, i % 5)
    os.makedirs(sub, exist_ok=True)
    ext = (".c", ".h", ".txt", ".o")[i % 4]
    size = int(r.lognormvariate(8.5, 1.2)) % (512 << 10)
    with open("%s/f%d%s" % (sub, i, ext), "w") as f:
        line = " ".join(r.choice(words) for _ in range(12)) + "\n"
        f.write(line * (size // len(line) + 1))
PY
	tar -C "$1" -cf "$1/src.tar" src
	rm -rf "$1/src"
}

mixed_run() {
	tar -C "$1" -xf "$2" &&
		find "$1/src" -type f -print0 | xargs -0 cat >/dev/null &&
		{ find "$1/src" -name '*.h' -newer "$2" >/dev/null || true; } &&
		grep -rl fsfilter "$1/src" >/dev/null &&
		rm -rf "$1/src"
}
