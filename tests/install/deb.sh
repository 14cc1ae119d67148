#!/usr/bin/env bash
# CPack builds the .deb; dpkg-deb -I shows the package and its declared
# runtime dependencies, and every shared library the installed binaries
# need (DT_NEEDED) belongs to a declared dependency; dpkg-deb -c lists the
# install layout; dpkg -x into a temp dir gives a fsfilter that runs
# (--version) and a mount helper that finds it. Never installs system-wide.
# Env: BUILD_DIR, PREFIX, LIBDIR.
set -u
fail() { echo "deb: FAIL: $*" >&2; exit 1; }
for t in cpack dpkg-deb dpkg readelf ldconfig; do
	command -v $t >/dev/null || { echo "deb: SKIP: no $t" >&2; exit 77; }
done
tmp=$(mktemp -d /tmp/fsfilter-deb.XXXXXX) || fail mktemp
trap 'rm -rf "$tmp"' EXIT

cpack --config "$BUILD_DIR/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
debs=("$tmp"/out/fsfilter_*.deb)
((${#debs[@]} == 1)) && [[ -f ${debs[0]} ]] || fail "no single fsfilter_*.deb in $(ls "$tmp/out")"
deb=${debs[0]}

# --- control -------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == fsfilter ]] || fail "Package: $(field Package)"
[[ $(field Architecture) == "$(dpkg --print-architecture)" ]] || fail "Architecture: $(field Architecture)"
version=$(field Version)
[[ -n $version ]] || fail "no Version"
depends=$(field Depends)
declared=$(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/|.*//; s/ //g' | sort -u)
for p in libc6 libfuse3-3 fuse3 libssl3 libjson-c5 libinih1; do
	grep -qx "$p" <<<"$declared" || fail "Depends lacks $p: $depends"
done
dpkg-deb -I "$deb" | grep -q "^ Description: " || fail "no Description"

# --- contents ------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||' >"$tmp/list"
for f in "$PREFIX/bin/fsfilter" "$PREFIX/sbin/mount.fsfilter" \
	"$PREFIX/sbin/mount.fuse.fsfilter" \
	"$PREFIX/include/fsfilter/filter.h" "$PREFIX/include/fsfilter/client.h" \
	"$PREFIX/include/fsfilter/monitor.h" "$PREFIX/include/fsfilter/text.h" \
	"$LIBDIR/libfsfilter-client.so.0" "$LIBDIR/libfsfilter-client.so" \
	"$LIBDIR/libfsfilter-client.a" \
	"$LIBDIR/pkgconfig/fsfilter-filter.pc" "$LIBDIR/pkgconfig/fsfilter-client.pc" \
	"$LIBDIR/fsfilter/filters/hello.so" \
	"$PREFIX/share/man/man1/fsfilter.1" "$PREFIX/share/man/man5/fsfilter.conf.5" \
	"$PREFIX/share/man/man3/fsfilter-filter-api.3" \
	"$PREFIX/share/man/man7/fsfilter-monitor.7" \
	"$PREFIX/share/bash-completion/completions/fsfilter" \
	"$PREFIX/lib/systemd/system/fsfilter@.service" \
	"$PREFIX/share/doc/fsfilter/copyright"; do
	grep -qxF "$f" "$tmp/list" || fail "dpkg-deb -c does not list $f"
done
# only paths under the prefix (nothing of the build machine)
bad=$(grep -v "^$PREFIX\(/\|$\)" "$tmp/list" | grep -vx '\.\?' | grep -vxF "$(dirname "$PREFIX")")
[[ -z $bad ]] || fail "paths outside $PREFIX: $bad"

# --- extracted: runs, and its dependencies are declared -----------------------
dpkg -x "$deb" "$tmp/root" || fail "dpkg -x"
root=$tmp/root
v=$("$root$PREFIX/bin/fsfilter" --version) || fail "extracted fsfilter --version failed"
[[ $v == "fsfilter $version" ]] || fail "--version says '$v', the package is $version"
out=$("$root$PREFIX/sbin/mount.fuse.fsfilter" /a /b -f -o filter=noop 2>&1) || fail "helper -f: $out"
[[ $out == *"$root$PREFIX/sbin/../bin/fsfilter mount --filter noop /a /b" ]] ||
	fail "extracted helper does not find the extracted fsfilter: $out"

# each DT_NEEDED soname -> the package owning it here -> must be declared
for elf in "$root$PREFIX/bin/fsfilter" "$root$PREFIX/sbin/mount.fsfilter" \
	"$root$LIBDIR/libfsfilter-client.so.0"; do
	for so in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		case $so in
		libasan.so*|libubsan.so*|libtsan.so*) continue ;; # sanitizer builds
		esac
		path=$(ldconfig -p | awk -v s="$so" '$1 == s { print $NF; exit }')
		[[ -n $path ]] || fail "$so (needed by ${elf##*/}) not found by ldconfig"
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1) ||
			true
		[[ -n $pkg ]] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)
		[[ -n $pkg ]] || fail "no package owns $path ($so)"
		grep -qx "$pkg" <<<"$declared" ||
			fail "${elf##*/} needs $so from $pkg, which Depends does not declare ($depends)"
	done
done
echo "deb: ok ($(basename "$deb"), Depends: $depends)"
