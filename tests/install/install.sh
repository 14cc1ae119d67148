#!/usr/bin/env bash
# cmake --install into a staging dir (DESTDIR), then, as an outside author
# would, build examples/filter/hello.c and examples/clients/port_echo.c
# against the *installed* headers and library found with pkg-config, with
# no path into the source or build tree. With /dev/fuse and root, the staged
# fsfilter mounts a volume and loads the out-of-tree hello.so (deny mode).
# Env: BUILD_DIR, PREFIX (CMAKE_INSTALL_PREFIX), LIBDIR (full), SRC_DIR.
. "$(dirname "$0")/../integration/lib.sh"
IT_NAME=install
trap it_cleanup EXIT
trap 'exit 130' INT
trap 'it_log "terminated"; exit 143' TERM
IT_STATE=$(mktemp /tmp/fsfilter-it-state.XXXXXX) || it_fail mktemp
for v in BUILD_DIR PREFIX LIBDIR SRC_DIR; do
	[[ -n ${!v:-} ]] || it_fail "$v not set"
done
command -v cc >/dev/null && command -v pkg-config >/dev/null ||
	it_skip "no cc or pkg-config"

it_tmpdir base
stage=$base/stage
DESTDIR=$stage cmake --install "$BUILD_DIR" >"$base/install.log" 2>&1 ||
	{ cat "$base/install.log" >&2; it_fail "cmake --install failed"; }

# --- the layout ---------------------------------------------------------------
expect=(
	"$PREFIX/bin/fsfilter"
	"$PREFIX/sbin/mount.fsfilter"
	"$PREFIX/sbin/mount.fuse.fsfilter"
	"$PREFIX/include/fsfilter/filter.h"
	"$PREFIX/include/fsfilter/client.h"
	"$PREFIX/include/fsfilter/monitor.h"
	"$PREFIX/include/fsfilter/scope.h"
	"$PREFIX/include/fsfilter/text.h"
	"$LIBDIR/libfsfilter-client.so"
	"$LIBDIR/libfsfilter-client.so.0"
	"$LIBDIR/libfsfilter-client.a"
	"$LIBDIR/pkgconfig/fsfilter-filter.pc"
	"$LIBDIR/pkgconfig/fsfilter-client.pc"
	"$LIBDIR/fsfilter/filters/hello.so"
	"$PREFIX/share/bash-completion/completions/fsfilter"
	"$PREFIX/lib/systemd/system/fsfilter@.service"
	"$PREFIX/share/man/man1/fsfilter.1"
	"$PREFIX/share/man/man5/fsfilter.conf.5"
	"$PREFIX/share/man/man7/fsfilter-redirect.7"
	"$PREFIX/share/man/man7/fsfilter-monitor.7"
	"$PREFIX/share/man/man7/fsfilter-crypt.7"
	"$PREFIX/share/man/man3/fsfilter-filter-api.3"
	"$PREFIX/share/man/man8/mount.fsfilter.8"
)
for f in "${expect[@]}"; do
	[[ -e $stage$f ]] || it_fail "not installed: $f"
done
[[ $(readlink "$stage$PREFIX/sbin/mount.fuse.fsfilter") == mount.fsfilter ]] ||
	it_fail "mount.fuse.fsfilter is not a relative link to mount.fsfilter"
# nothing of the build tree leaks into installed text files
if grep -rlI -- "$BUILD_DIR\|$SRC_DIR" "$stage" >"$base/leaks"; then
	it_fail "installed files name the build/source tree: $(cat "$base/leaks")"
fi

# the example config passes the staged fsfilter's check (temp dirs for its paths)
mkdir "$base/ex-lower" "$base/ex-mnt"
sed "s|/srv/data|$base/ex-lower|; s|/srv/view|$base/ex-mnt|" \
	"$stage$PREFIX/share/doc/fsfilter/example.conf" >"$base/example.conf"
out=$("$stage$PREFIX/bin/fsfilter" check "$base/example.conf" 2>&1) ||
	it_fail "the installed example.conf fails fsfilter check: $out"
v=$("$stage$PREFIX/bin/fsfilter" --version) || it_fail "staged fsfilter --version failed"
[[ $v == "fsfilter "* ]] || it_fail "unexpected --version: $v"
# the helper finds the fsfilter next to it (../bin), not the one in PATH
out=$("$stage$PREFIX/sbin/mount.fsfilter" /a /b -f -o rw,filter=noop,noatime,nofail 2>&1) ||
	it_fail "mount.fsfilter -f failed: $out"
[[ $out == "mount.fsfilter: $stage$PREFIX/sbin/../bin/fsfilter mount --filter noop /a /b -o noatime" ]] ||
	it_fail "mount.fsfilter -f: $out"

# --- out of tree builds with pkg-config against the staged prefix ---------------
# (the compiler's default C dialect, as an outside author would build)
export PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_LIBDIR=$stage$LIBDIR/pkgconfig
export PKG_CONFIG_PATH=
src=$base/src
mkdir "$src"
# a sanitizer build's libraries need the sanitizer runtime at link time
san=
[[ -n ${FSFILTER_SANITIZE:-} ]] && san="-fsanitize=$FSFILTER_SANITIZE"
cp "$SRC_DIR/examples/filter/hello.c" "$SRC_DIR/examples/clients/port_echo.c" "$src/"
cflags=$(pkg-config --cflags fsfilter-filter) || it_fail "pkg-config fsfilter-filter"
[[ $cflags == *"$stage$PREFIX/include"* ]] || it_fail "fsfilter-filter cflags: $cflags"
fdir=$(pkg-config --variable=filterdir fsfilter-filter)
[[ $fdir == "$LIBDIR/fsfilter/filters" || $fdir == "$stage$LIBDIR/fsfilter/filters" ]] ||
	it_fail "filterdir: $fdir"
# shellcheck disable=SC2086
cc -Wall -Wextra -Wno-unused-parameter -Werror -fPIC -shared -fvisibility=hidden $cflags \
	-o "$src/hello.so" "$src/hello.c" || it_fail "hello.c does not build out of tree"

ccflags=$(pkg-config --cflags fsfilter-client) || it_fail "pkg-config fsfilter-client"
libs=$(pkg-config --libs fsfilter-client)
# shellcheck disable=SC2086
cc -Wall -Wextra -Wno-unused-parameter -Werror $san $ccflags -o "$src/port_echo" "$src/port_echo.c" $libs ||
	it_fail "port_echo.c does not build against the shared library"
# the static library, with what pkg-config --static adds
slibs=$(pkg-config --static --libs-only-other fsfilter-client)
# shellcheck disable=SC2086
cc -Wall -Wextra -Wno-unused-parameter -Werror $san $ccflags -o "$src/port_echo_static" "$src/port_echo.c" \
	"$stage$LIBDIR/libfsfilter-client.a" $slibs ||
	it_fail "port_echo.c does not build against the static library"
ldd "$src/port_echo_static" | grep -q fsfilter-client && it_fail "static port_echo links the .so"

# it resolves against the staged library and runs (usage error: exit 2)
deps=$(LD_LIBRARY_PATH=$stage$LIBDIR ldd "$src/port_echo")
grep -qF "$stage$LIBDIR/libfsfilter-client.so.0" <<<"$deps" ||
	it_fail "port_echo does not use the staged libfsfilter-client.so.0: $deps"
LD_LIBRARY_PATH=$stage$LIBDIR "$src/port_echo" >/dev/null 2>&1
rc=$?
((rc == 2)) || it_fail "port_echo without arguments: exit $rc, expected 2 (usage)"
"$src/port_echo_static" >/dev/null 2>&1
rc=$?
((rc == 2)) || it_fail "static port_echo without arguments: exit $rc, expected 2"

# --- cmake --install --prefix OTHER: the .pc files follow the new prefix -------
# (written at install time), and an outside author builds against them with
# plain PKG_CONFIG_PATH, no sysroot
other=$base/other
cmake --install "$BUILD_DIR" --prefix "$other" >"$base/install-other.log" 2>&1 ||
	{ cat "$base/install-other.log" >&2; it_fail "cmake --install --prefix failed"; }
opc=$other/${LIBDIR#"$PREFIX"/}/pkgconfig
[[ -f $opc/fsfilter-filter.pc && -f $opc/fsfilter-client.pc ]] ||
	it_fail "no .pc files in $opc"
(
	unset PKG_CONFIG_SYSROOT_DIR
	export PKG_CONFIG_LIBDIR=$opc PKG_CONFIG_PATH=
	for pc in fsfilter-filter fsfilter-client; do
		p=$(pkg-config --variable=prefix $pc) || it_fail "pkg-config $pc"
		[[ $p == "$other" ]] || it_fail "$pc.pc has prefix $p, not the install's $other"
	done
	fdir=$(pkg-config --variable=filterdir fsfilter-filter)
	[[ $fdir == "$other/"*/fsfilter/filters && -f $fdir/hello.so ]] ||
		it_fail "filterdir of --prefix $other: $fdir"
	mkdir "$base/src2"
	cp "$src/hello.c" "$src/port_echo.c" "$base/src2/"
	cflags=$(pkg-config --cflags fsfilter-filter)
	[[ $cflags == "-I$other/include"* ]] || it_fail "fsfilter-filter cflags: $cflags"
	# shellcheck disable=SC2086
	# strict ISO C17 this time (the feature macros are the examples' own)
	cc -std=c17 -Wall -Wextra -Wno-unused-parameter -Werror -fPIC -shared -fvisibility=hidden $cflags \
		-o "$base/src2/hello.so" "$base/src2/hello.c" ||
		it_fail "hello.c does not build against --prefix $other"
	# shellcheck disable=SC2086
	cc -std=c17 -Wall -Wextra -Wno-unused-parameter -Werror $san $(pkg-config --cflags fsfilter-client) \
		-o "$base/src2/port_echo" "$base/src2/port_echo.c" $(pkg-config --libs fsfilter-client) ||
		it_fail "port_echo.c does not build against --prefix $other"
	# (captured first: grep -q may close the pipe early, and pipefail is on)
	deps=$(LD_LIBRARY_PATH=$other/${LIBDIR#"$PREFIX"/} ldd "$base/src2/port_echo")
	grep -qF "$other/" <<<"$deps" || it_fail "port_echo does not use the library of $other: $deps"
	LD_LIBRARY_PATH=$other/${LIBDIR#"$PREFIX"/} "$base/src2/port_echo" >/dev/null 2>&1
	rc=$?
	((rc == 2)) || it_fail "port_echo (--prefix $other) without arguments: exit $rc, expected 2"
) || exit 1
it_log "ok: --prefix $other: .pc prefix, out-of-tree hello.so and port_echo (-std=c17)"

# --- the staged fsfilter loads the out-of-tree filter --------------------------
if [[ ! -c /dev/fuse ]] || ((EUID != 0)); then
	it_log "no /dev/fuse or not root: built, not mounted"
	exit 0
fi
FSFILTER=$stage$PREFIX/bin/fsfilter
mkdir "$base/lower" "$base/mnt"
echo secret >"$base/lower/a.forbidden"
echo fine >"$base/lower/b.txt"
IT_LOG=$base/daemon.log
it_mount "$base/lower" "$base/mnt" --filter "$src/hello.so:deny"
[[ $(cat "$base/mnt/b.txt") == fine ]] || it_fail "read through the staged volume"
cat "$base/mnt/a.forbidden" >/dev/null 2>&1 && it_fail "out-of-tree hello.so (deny) did not deny"
"$FSFILTER" status "$base/mnt" | grep -q hello || it_fail "status does not show hello"
it_unmount "$base/mnt"

# a config's [filter hello] is hello.so from the installed filter directory
cat >"$base/hello.conf" <<CONF
[volume]
lower = $base/lower
mountpoint = $base/mnt
[filter hello]
args = deny
CONF
out=$("$FSFILTER" check "$base/hello.conf" 2>&1) || it_fail "check of [filter hello]: $out"
it_mount "$base/lower" "$base/mnt" --config "$base/hello.conf"
cat "$base/mnt/a.forbidden" >/dev/null 2>&1 && it_fail "[filter hello] from the filter directory did not deny"
[[ $(cat "$base/mnt/b.txt") == fine ]] || it_fail "read through the [filter hello] volume"
it_unmount "$base/mnt"

# fsfilter load MNT NAME: NAME.so from the installed filter directory (found
# relative to the staged binary: the configured prefix is not there)
it_mount "$base/lower" "$base/mnt"
out=$("$FSFILTER" load "$base/mnt" hello --args deny) || it_fail "load by name from the installed filter directory"
[[ $out == *"hello attached"* ]] || it_fail "load hello: $out"
cat "$base/mnt/a.forbidden" >/dev/null 2>&1 && it_fail "hello loaded by name did not deny"
out=$("$FSFILTER" status "$base/mnt" --json) || it_fail "status --json"
grep -qF "$stage$LIBDIR/fsfilter/filters/hello.so" <<<"$out" ||
	it_fail "hello was not loaded from the staged filter directory"
it_unmount "$base/mnt"
it_log "ok"
